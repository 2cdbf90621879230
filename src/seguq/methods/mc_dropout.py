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

    def _dropout_layers(self) -> list[nn.Module]:
        return [m for m in self.net.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]

    def noise_shapes(self, x_shape: tuple[int, ...], n: int) -> dict[str, tuple[int, ...]]:
        """dropout<j>: (S, B, C_j, 1, ...) keep masks (1 with probability 1 - p) of the j-th
        channel-dropout layer, C_j its channels."""
        shapes, dims = {}, len(x_shape) - 2
        for j, layer in enumerate(self._dropout_layers()):
            shapes[f"dropout{j}"] = (n, x_shape[0], layer.channels, *[1] * dims)
        return shapes

    def logit_samples(
        self, x: torch.Tensor, n: int, noise: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        if noise is None:
            with dropout_active(self.net):
                return torch.stack([self.net(x) for _ in range(n)])
        return torch.stack([self._with_masks(x, noise, s) for s in range(n)])

    def _with_masks(self, x: torch.Tensor, masks: dict[str, torch.Tensor], s: int) -> torch.Tensor:
        """One pass with the dropout layers applying sample s of the given keep masks."""
        hooks = []
        for j, layer in enumerate(self._dropout_layers()):
            mask, rate = masks[f"dropout{j}"][s], layer.p

            def apply(module, inputs, output, mask=mask, rate=rate):
                return inputs[0] * mask / (1.0 - rate)

            hooks.append(layer.register_forward_hook(apply))
        try:
            return self.net(x)
        finally:
            for hook in hooks:
                hook.remove()
