"""The deterministic U-Net (ERM / DeepAll): S = 1, uncertainty = softmax entropy."""

from __future__ import annotations

import torch

from seguq.methods.base import Batch, Method, register, unet_features
from seguq.methods.losses import ce_dice_loss
from seguq.nets import build_unet


@register("deterministic")
class Deterministic(Method):
    """One U-Net trained with CE + soft Dice."""

    default_samples = 1

    def __init__(self, config, in_channels: int, num_classes: int):
        super().__init__(config, in_channels, num_classes)
        self.net = build_unet(config.net, in_channels, num_classes, spatial_dims=self.spatial_dims)

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        loss = ce_dice_loss(self.net(batch["image"]), batch["label"])
        return loss, {"loss": float(loss.detach())}

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def encoder_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return unet_features(self.net, x)

    def logit_samples(
        self, x: torch.Tensor, n: int, noise: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        return self.net(x).unsqueeze(0)
