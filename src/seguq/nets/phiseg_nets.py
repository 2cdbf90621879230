"""PHiSeg's networks (Baumgartner et al., MICCAI 2019): the latent hierarchy used for the prior
and the posterior, and the likelihood net that decodes the latents into logits per level. The
method (losses, sampling) is `seguq.methods.phiseg`."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from seguq.nets.blocks import ConvBlock, conv_unit
from seguq.nets.gaussian import GaussianHead
from seguq.nets.layers import LINEAR, avg_pool, conv, upsample

Gaussian = tuple[torch.Tensor, torch.Tensor]
# (level, mu, log_sigma) -> the latent passed on to the next finer level
Chooser = Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor]


class LatentHierarchy(nn.Module):
    """PHiSeg's prior or posterior net: an encoder and per-level Gaussians, coarse to fine.

    Args:
        in_channels: input channels (C for the prior, C + K for the posterior).
        widths: channels per resolution, finest first (`net.widths`).
        levels: L latent levels, at resolutions len(widths) - L .. len(widths) - 1.
        latent_channels: channels of each latent map.
        norm: normalisation of the blocks.
        dims: spatial dimensions (2 or 3).
    """

    def __init__(
        self,
        in_channels: int,
        widths: list[int],
        levels: int,
        latent_channels: int,
        norm: str,
        dims: int = 2,
    ):
        super().__init__()
        self.offset = len(widths) - levels  # resolution index of latent level 0
        self.encoder = nn.ModuleList(
            [
                ConvBlock(cin, cout, norm, dims=dims)
                for cin, cout in zip([in_channels, *widths[:-1]], widths, strict=True)
            ]
        )
        at = [widths[level + self.offset] for level in range(levels)]
        self.latent_in = nn.ModuleList(
            [ConvBlock(latent_channels, at[level], norm, dims=dims) for level in range(levels - 1)]
        )
        self.merge = nn.ModuleList(
            [ConvBlock(2 * at[level], at[level], norm, dims=dims) for level in range(levels - 1)]
        )
        self.heads = nn.ModuleList(
            [GaussianHead(at[level], latent_channels, dims) for level in range(levels)]
        )

    @property
    def levels(self) -> int:
        """Number of latent levels L."""
        return len(self.heads)

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Encoder features at the latent levels, finest first.

        Args:
            x: (B, in_channels, *spatial), every side a multiple of 2 ** (len(widths) - 1).

        Returns:
            L tensors; level l is (B, widths[l + offset], *spatial / 2**(l + offset)).
        """
        features = []
        for i, block in enumerate(self.encoder):
            x = block(x if i == 0 else avg_pool(x, 2))
            features.append(x)
        return features[self.offset :]

    def walk(
        self, features: list[torch.Tensor], choose: Chooser, copies: int = 1
    ) -> tuple[list[Gaussian], list[torch.Tensor]]:
        """Per-level Gaussians from the coarsest level to the finest.

        Args:
            features: the output of `encode`, batch B.
            choose: (level, mu, log_sigma) -> the latent of that level, (copies * B, c, *s):
                a sample, the mean, or a latent given from elsewhere (teacher forcing); the
                next finer level is conditioned on it.
            copies: how many latent sets per image (samples or annotators), sample-major.

        Returns:
            (mu, log_sigma) per level and the chosen latents, finest first, each with batch
            copies * B.
        """
        gaussians: list[Gaussian] = [None] * self.levels  # type: ignore[list-item]
        latents: list[torch.Tensor] = [None] * self.levels  # type: ignore[list-item]
        below = None
        for level in reversed(range(self.levels)):
            feature = features[level].repeat(copies, *[1] * (features[level].ndim - 1))
            if below is not None:
                z_up = self.latent_in[level](upsample(below))
                feature = self.merge[level](torch.cat([feature, z_up], 1))
            gaussians[level] = self.heads[level](feature)
            below = latents[level] = choose(level, *gaussians[level])
        return gaussians, latents


class Likelihood(nn.Module):
    """PHiSeg's likelihood net: latents (finest first) -> accumulated logits per level.

    Args:
        widths: channels per resolution, finest first (`net.widths`).
        levels: L latent levels.
        latent_channels: channels of each latent map.
        num_classes: K.
        norm: normalisation of the blocks.
        dims: spatial dimensions (2 or 3).
    """

    def __init__(
        self,
        widths: list[int],
        levels: int,
        latent_channels: int,
        num_classes: int,
        norm: str,
        dims: int = 2,
    ):
        super().__init__()
        offset = len(widths) - levels
        self.post_z = nn.ModuleList(
            [
                nn.Sequential(
                    ConvBlock(latent_channels, widths[level], norm, dims=dims),
                    # raise latent level l from resolution l + offset to resolution l
                    *[
                        nn.Sequential(
                            nn.Upsample(scale_factor=2, mode=LINEAR[dims], align_corners=False),
                            conv_unit(widths[level], widths[level], norm, dims),
                        )
                        for _ in range(offset)
                    ],
                )
                for level in range(levels)
            ]
        )
        self.up = nn.ModuleList(
            [conv_unit(widths[level + 1], widths[level], norm, dims) for level in range(levels - 1)]
        )
        self.combine = nn.ModuleList(
            [
                ConvBlock(2 * widths[level], widths[level], norm, dims=dims)
                for level in range(levels - 1)
            ]
        )
        self.heads = nn.ModuleList(
            [conv(dims, widths[level], num_classes, 1) for level in range(levels)]
        )

    def forward(self, latents: list[torch.Tensor]) -> list[torch.Tensor]:
        """Accumulated logits per level, finest first.

        Args:
            latents: L tensors (N, latent_channels, *spatial_l), finest first.

        Returns:
            L tensors (N, K, *spatial) at full resolution; level l's is the sum of the (nearest-
            upsampled) head outputs of levels l .. L-1, so level 0's is the prediction.
        """
        levels = len(latents)
        outputs: list[torch.Tensor] = [None] * levels  # type: ignore[list-item]
        features = accumulated = None
        for level in reversed(range(levels)):
            post = self.post_z[level](latents[level])
            if features is not None:
                post = self.combine[level](torch.cat([post, self.up[level](upsample(features))], 1))
            features = post
            head = self.heads[level](features)
            if level:
                head = F.interpolate(head, scale_factor=2**level, mode="nearest")
            accumulated = head if accumulated is None else accumulated + head
            outputs[level] = accumulated
        return outputs
