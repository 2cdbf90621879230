"""Domain-randomising intensity augmentations (MONAI random intensity transforms), for any method.

They perturb what differs between sites — gamma, contrast, bias field, noise, blur, histogram — so
that a model trained on some sites sees a wider range of appearances. They act on the normalised
image only (masks untouched) and are switched on with `data.intensity_augment: domain`.
"""

from __future__ import annotations

from monai.transforms import (
    Compose,
    RandAdjustContrastd,
    RandBiasFieldd,
    RandGaussianNoised,
    RandGaussianSmoothd,
    RandHistogramShiftd,
    RandScaleIntensityd,
    RandShiftIntensityd,
)

from seguq.config_checks import INTENSITY_AUGMENTS
from seguq.errors import SeguqError


def intensity_augmentation(kind: str, probability: float = 0.3) -> Compose | None:
    """The image-only augmentation named `kind` ("none" -> None).

    Args:
        kind: "none" or "domain".
        probability: the chance that each transform is applied to an item.

    Raises:
        SeguqError: an unknown kind.
    """
    if kind not in INTENSITY_AUGMENTS:
        raise SeguqError(
            f"data.intensity_augment: unknown '{kind}' (known: {', '.join(INTENSITY_AUGMENTS)})"
        )
    if kind == "none":
        return None
    p, keys = probability, ["image"]
    return Compose(
        [
            RandHistogramShiftd(keys, num_control_points=(5, 10), prob=p),
            RandAdjustContrastd(keys, gamma=(0.6, 1.6), prob=p),
            RandBiasFieldd(keys, coeff_range=(0.1, 0.4), prob=p),
            RandScaleIntensityd(keys, factors=0.25, prob=p),
            RandShiftIntensityd(keys, offsets=0.25, prob=p),
            RandGaussianSmoothd(keys, sigma_x=(0.25, 1.5), sigma_y=(0.25, 1.5), prob=p),
            RandGaussianNoised(keys, std=0.15, prob=p),
        ]
    )
