"""Monte Carlo dropout (Gal & Ghahramani 2016): dropout stays active at test time; S passes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from seguq.methods.base import Batch, Method, register, unet_features
from seguq.methods.losses import ce_dice_loss
from seguq.nets import build_unet


@contextmanager
def dropout_active(module: nn.Module) -> Iterator[None]:
    """Put every dropout layer of `module` in training mode, and restore the modes afterwards."""
    layers = [m for m in module.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
    modes = [m.training for m in layers]
    try:
        for layer in layers:
            layer.train()
        yield
    finally:
        for layer, mode in zip(layers, modes, strict=True):
            layer.train(mode)


@register("mc_dropout")
class MCDropout(Method):
    """A U-Net with dropout (rate `method.mc_dropout`, placement `net.dropout_placement`)."""

    default_samples = 16

    def __init__(self, config, in_channels: int, num_classes: int):
        super().__init__(config, in_channels, num_classes)
        self.net = build_unet(
            config.net,
            in_channels,
            num_classes,
            dropout=config.method.mc_dropout,
            spatial_dims=self.spatial_dims,
        )

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        loss = ce_dice_loss(self.net(batch["image"]), batch["label"])
        return loss, {"loss": float(loss.detach())}

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def encoder_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return unet_features(self.net, x)

    def logit_samples(self, x: torch.Tensor, n: int) -> torch.Tensor:
        with dropout_active(self.net):
            return torch.stack([self.net(x) for _ in range(n)])
