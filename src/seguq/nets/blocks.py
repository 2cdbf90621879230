"""Convolution blocks shared by the backbones."""

from __future__ import annotations

from torch import nn

from seguq.config_checks import NORMS
from seguq.errors import SeguqError


def norm_layer(kind: str, channels: int) -> nn.Module:
    """A 2D normalisation layer by name.

    Raises:
        SeguqError: unknown normalisation name.
    """
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    if kind == "none":
        return nn.Identity()
    raise SeguqError(f"net.norm: unknown normalisation '{kind}' (known: {', '.join(NORMS)})")


class ConvBlock(nn.Sequential):
    """Two 3x3 convolutions, each followed by normalisation and LeakyReLU, then optional dropout.

    Input (B, in_channels, H, W) -> output (B, out_channels, H, W).
    """

    def __init__(self, in_channels: int, out_channels: int, norm: str, dropout: float = 0.0):
        layers: list[nn.Module] = []
        for cin in (in_channels, out_channels):
            layers += [
                nn.Conv2d(cin, out_channels, 3, padding=1, bias=norm == "none"),
                norm_layer(norm, out_channels),
                nn.LeakyReLU(0.01, inplace=True),
            ]
        if dropout > 0:
            layers.append(nn.Dropout2d(dropout))
        super().__init__(*layers)
