"""Test-time augmentation (Wang et al. 2019): flips and small intensity changes, inverted on the
output; S = number of transforms."""

from __future__ import annotations

import torch

from seguq.methods.base import Batch, Method, register, unet_features
from seguq.methods.losses import ce_dice_loss
from seguq.nets import build_unet


def flip_sets(axes: list[int]) -> list[tuple[int, ...]]:
    """Every combination of flips along the given patch axes, as tensor dimensions of
    (B, C, *spatial): identity first, then the last axis (horizontal in 2D), ..."""
    dims = [2 + a for a in sorted(axes, reverse=True)]
    combos = [
        tuple(d for i, d in enumerate(dims) if mask >> i & 1) for mask in range(2 ** len(dims))
    ]
    return [tuple(sorted(c)) for c in combos]


@register("tta")
class TestTimeAugmentation(Method):
    """A deterministic U-Net (trained with flip augmentation) predicted under S transforms.

    The transforms are every combination of the flips along the axes the model was trained to be
    flipped along (`data.flip_axes`, default every axis; none without `data.augment`), when
    `method.tta_flips`, with the intensity scales in `method.tta_intensity` (plus 1.0).
    Intensity changes act on the normalised image, so a scale c multiplies its contrast by c.
    """

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, config, in_channels: int, num_classes: int):
        super().__init__(config, in_channels, num_classes)
        self.net = build_unet(config.net, in_channels, num_classes, spatial_dims=self.spatial_dims)
        axes = config.data.flip_axes
        axes = list(range(self.spatial_dims)) if axes is None else axes
        trained = config.method.tta_flips and config.data.augment
        flips = flip_sets(list(axes)) if trained else [()]
        scales = [1.0] + [float(s) for s in config.method.tta_intensity if float(s) != 1.0]
        self.transforms = [(flip, scale) for scale in scales for flip in flips]

    @property
    def default_samples(self) -> int:  # type: ignore[override]
        return len(self.transforms)

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
        # S = number of transforms whatever n asks (n larger repeats nothing).
        outputs = []
        for flip, scale in self.transforms:
            view = x * scale
            if flip:
                view = torch.flip(view, flip)
            out = self.net(view)
            outputs.append(torch.flip(out, flip) if flip else out)
        return torch.stack(outputs)
