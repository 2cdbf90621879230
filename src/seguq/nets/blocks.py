"""Convolution blocks shared by the backbones (2D or 3D)."""

from __future__ import annotations

from torch import nn

from seguq.nets.layers import conv, dropout, norm_layer

__all__ = ["ConvBlock", "conv_unit", "norm_layer"]


def conv_unit(in_channels: int, out_channels: int, norm: str, dims: int = 2) -> nn.Sequential:
    """One 3x3(x3) convolution, normalisation and LeakyReLU: (B, in, *s) -> (B, out, *s)."""
    return nn.Sequential(
        conv(dims, in_channels, out_channels, 3, padding=1, bias=norm == "none"),
        norm_layer(norm, out_channels, dims),
        nn.LeakyReLU(0.01, inplace=True),
    )


class ConvBlock(nn.Sequential):
    """Two 3x3(x3) convolutions, each followed by normalisation and LeakyReLU, then optional
    dropout.

    Input (B, in_channels, *spatial) -> output (B, out_channels, *spatial).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        norm: str,
        dropout_rate: float = 0.0,
        dims: int = 2,
    ):
        layers: list[nn.Module] = []
        for cin in (in_channels, out_channels):
            layers += list(conv_unit(cin, out_channels, norm, dims))
        if dropout_rate > 0:
            layer = dropout(dropout_rate, dims)
            layer.channels = out_channels  # the shape of its masks (MC dropout's noise inputs)
            layers.append(layer)
        super().__init__(*layers)
