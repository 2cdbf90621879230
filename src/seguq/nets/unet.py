"""A U-Net (2D or 3D) that exposes its skip features.

`encode` returns the features of every resolution level; `decode` fuses them back, and takes
optional extra tensors per skip level, concatenated at the `cat([upsampled, skip])` point: that is
where stochastic skip modules (HUE) attach.
"""

from __future__ import annotations

import torch
from torch import nn

from seguq.config import NetConfig
from seguq.config_checks import DROPOUT_PLACEMENTS as PLACEMENTS
from seguq.errors import SeguqError
from seguq.nets.blocks import ConvBlock
from seguq.nets.layers import conv, conv_fn, conv_transpose, crop_to, max_pool, pad_to_multiple


class UNet(nn.Module):
    """Encoder -> decoder with skip connections -> 1x1 head.

    Args:
        in_channels: image channels C.
        num_classes: output classes K.
        widths: channels per level, finest first; len(widths) - 1 down-sampling steps.
        norm: "instance" | "batch" | "group" | "none".
        dropout: dropout rate of the blocks selected by `dropout_placement`.
        dropout_placement: "decoder" | "encoder" | "all" | "bottleneck".
        skip_extra_channels: extra channels concatenated at each skip level (finest first), e.g.
            latent samples; None or 0 for none.
        spatial_dims: 2 or 3.

    Shapes: forward (B, C, *spatial) -> logits (B, K, *spatial), any size (padded internally to
    a multiple of 2 ** (len(widths) - 1) and cropped back).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        widths: list[int],
        norm: str = "instance",
        dropout: float = 0.0,
        dropout_placement: str = "decoder",
        skip_extra_channels: list[int] | None = None,
        spatial_dims: int = 2,
    ):
        super().__init__()
        dims = self.spatial_dims = spatial_dims
        if len(widths) < 2:
            raise SeguqError(f"net.widths: need at least 2 levels, got {widths}")
        if dropout_placement not in PLACEMENTS:
            raise SeguqError(
                f"net.dropout_placement: unknown '{dropout_placement}' "
                f"(known: {', '.join(PLACEMENTS)})"
            )
        depth = len(widths) - 1
        extras = list(skip_extra_channels or [0] * depth)
        if len(extras) != depth:
            raise SeguqError(f"skip_extra_channels: need {depth} values, got {extras}")
        enc_p = dropout if dropout_placement in ("encoder", "all") else 0.0
        dec_p = dropout if dropout_placement in ("decoder", "all") else 0.0
        mid_p = dropout if dropout_placement in ("bottleneck", "all", "encoder") else 0.0
        self.widths = list(widths)
        self.skip_extra_channels = extras
        self.encoder = nn.ModuleList(
            [ConvBlock(in_channels, widths[0], norm, enc_p, dims)]
            + [ConvBlock(widths[i - 1], widths[i], norm, enc_p, dims) for i in range(1, depth)]
        )
        self.bottleneck = ConvBlock(widths[depth - 1], widths[depth], norm, mid_p, dims)
        self.up = nn.ModuleList(
            [conv_transpose(dims, widths[i + 1], widths[i], 2, stride=2) for i in range(depth)]
        )
        self.decoder = nn.ModuleList(
            [
                ConvBlock(2 * widths[i] + extras[i], widths[i], norm, dec_p, dims)
                for i in range(depth)
            ]
        )
        self.head = conv(dims, widths[0], num_classes, 1)

    @property
    def depth(self) -> int:
        """Number of skip connections (= down-sampling steps)."""
        return len(self.widths) - 1

    def encode(self, x: torch.Tensor, levels: int | None = None) -> list[torch.Tensor]:
        """Encoder features, finest first; the last element is the bottleneck.

        Args:
            x: (B, C, *spatial) with every side a multiple of 2 ** depth.
            levels: compute only the first `levels` feature maps (None: all depth + 1), e.g.
                the skip features a posterior head needs, without the bottleneck.

        Returns:
            depth + 1 (or `levels`) tensors; level i has shape (B, widths[i], *spatial / 2**i).
        """
        wanted = self.depth + 1 if levels is None else levels
        features: list[torch.Tensor] = []
        for block in self.encoder[:wanted]:
            x = block(x)
            features.append(x)
            x = max_pool(x, 2)
        if wanted > self.depth:
            features.append(self.bottleneck(x))
        return features

    def decode(
        self, features: list[torch.Tensor], skip_extras: list[torch.Tensor | None] | None = None
    ) -> torch.Tensor:
        """Decoder features at full resolution.

        Args:
            features: the output of `encode` (its batch size may be repeated by the caller).
            skip_extras: per skip level (finest first) a tensor (B, extra_i, *spatial_i) or None.

        Returns:
            (B, widths[0], *spatial).
        """
        x = features[-1]
        for level in reversed(range(self.depth)):
            parts = [self.up[level](x), features[level]]
            if skip_extras is not None and skip_extras[level] is not None:
                parts.append(skip_extras[level])
            x = self.decoder[level](torch.cat(parts, dim=1))
        return x

    def decode_samples(
        self, features: list[torch.Tensor], skip_extras: list[torch.Tensor | None], samples: int
    ) -> torch.Tensor:
        """`decode` for S variants of each image that share the encoder features.

        Equal to `decode` on features repeated S times, but cheaper: a decoder block's first
        convolution is linear in cat(upsampled, skip, extra), so its skip part is computed once per
        image, and levels below the coarsest extra are decoded once and broadcast.

        Args:
            features: the output of `encode`, batch B.
            skip_extras: per skip level (finest first) a tensor (S * B, extra_i, *spatial_i),
                sample-major (sample s of image b at index s * B + b), or None.
            samples: S.

        Returns:
            (S * B, widths[0], *spatial), sample-major.
        """
        b = features[0].shape[0]
        convolve = conv_fn(self.spatial_dims)
        x, shared = features[-1], True
        for level in reversed(range(self.depth)):
            block = self.decoder[level]
            conv = block[0]
            width = self.widths[level]
            padding = conv.padding
            skip_part = convolve(
                features[level], conv.weight[:, width : 2 * width], conv.bias, padding=padding
            )
            total = convolve(self.up[level](x), conv.weight[:, :width], None, padding=padding)
            if shared:
                total = total + skip_part
            else:
                total = (total.unflatten(0, (samples, b)) + skip_part).flatten(0, 1)
            extra = skip_extras[level]
            if extra is not None:
                if shared:
                    total = total.unsqueeze(0).expand(samples, *total.shape).flatten(0, 1)
                    shared = False
                total = total + convolve(extra, conv.weight[:, 2 * width :], None, padding=padding)
            for layer in list(block)[1:]:  # norm, activation, second convolution, ...
                total = layer(total)
            x = total
        if shared:
            x = x.unsqueeze(0).expand(samples, *x.shape).flatten(0, 1)
        return x

    def pad(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
        """Pad (B, C, *spatial) at the ends to multiples of 2 ** depth; also returns the old
        spatial size (for `crop_to`)."""
        return pad_to_multiple(x, 2**self.depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, K, *spatial) for images (B, C, *spatial)."""
        x, size = self.pad(x)
        return crop_to(self.head(self.decode(self.encode(x))), size)


def build_unet(
    config: NetConfig,
    in_channels: int,
    num_classes: int,
    *,
    dropout: float | None = None,
    dropout_placement: str | None = None,
    skip_extra_channels: list[int] | None = None,
    spatial_dims: int = 2,
) -> UNet:
    """A U-Net from the run's net config; keyword overrides let a method change dropout."""
    return UNet(
        in_channels,
        num_classes,
        config.widths,
        norm=config.norm,
        dropout=config.dropout if dropout is None else dropout,
        dropout_placement=config.dropout_placement
        if dropout_placement is None
        else dropout_placement,
        skip_extra_channels=skip_extra_channels,
        spatial_dims=spatial_dims,
    )
