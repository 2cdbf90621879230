"""Training augmentation (MONAI random transforms) for 2D and 3D patches.

Spatial: rotations and zoom of image and masks together (linear / nearest), then flips.
Intensity (image only): "standard" follows nnU-Net's default set (brightness, contrast, gamma,
noise, blur); "domain" perturbs more strongly what differs between sites (gamma, contrast, bias
field, histogram, noise, blur), so that a model trained on some sites sees a wider range of
appearances.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from monai.transforms import (
    Compose,
    RandAdjustContrastd,
    RandAffined,
    RandBiasFieldd,
    RandFlipd,
    RandGaussianNoised,
    RandGaussianSmoothd,
    RandHistogramShiftd,
    RandScaleIntensityd,
    RandShiftIntensityd,
)

from seguq.config_checks import INTENSITY_AUGMENTS
from seguq.errors import SeguqError

KEYS = ["image", "label"]
# nnU-Net applies rotation and scaling each to a fifth of the patches.
SPATIAL_PROBABILITY = 0.2


def spatial_augmentation(
    patch_size: Sequence[int],
    *,
    rotation: float = 0.0,
    scaling: Sequence[float] = (),
    flip_axes: Sequence[int] = (),
) -> list:
    """Rotation (up to `rotation` degrees about every axis of the patch plane or volume) and zoom
    (`scaling` = (low, high)) applied to a crop of `extended_size`, returned at `patch_size`;
    then a flip along each of `flip_axes` with probability 1/2."""
    steps: list = []
    if rotation > 0 or scaling:
        angle = math.radians(rotation)
        dims = len(patch_size)
        rotate = (angle,) if dims == 2 else (angle, angle, angle)
        # RandAffine's scale_range is a zoom offset: 1 + U(-r, r); our factor is the zoom out.
        low, high = scaling if scaling else (1.0, 1.0)
        steps.append(
            RandAffined(
                KEYS,
                # Rotation and zoom each with nnU-Net's chance, drawn together in one resampling.
                prob=1.0 - (1.0 - SPATIAL_PROBABILITY) ** ((rotation > 0) + bool(scaling)),
                rotate_range=rotate if rotation > 0 else None,
                scale_range=((low - 1.0, high - 1.0),) * dims if scaling else None,
                spatial_size=list(patch_size),
                mode=("bilinear", "nearest"),
                padding_mode="zeros",
            )
        )
    steps += [RandFlipd(KEYS, prob=0.5, spatial_axis=axis) for axis in flip_axes]
    return steps


def extended_size(patch_size: Sequence[int], rotation: float, scaling: Sequence[float]) -> list:
    """The crop that a rotated or zoomed-out patch reads from, so that its corners hold image
    rather than padding (nnU-Net crops larger for the same reason)."""
    if rotation <= 0 and not scaling:
        return list(patch_size)
    zoom = max(scaling) if scaling else 1.0
    turn = math.sqrt(2.0) if rotation >= 45 else 1.0 / math.cos(math.radians(rotation))
    factor = min(2.0, zoom * turn)
    return [int(math.ceil(p * factor)) for p in patch_size]


def intensity_augmentation(kind: str, probability: float | None = None) -> Compose | None:
    """The image-only augmentation named `kind` ("none" -> None).

    Args:
        kind: "none", "standard" or "domain".
        probability: the chance that each transform is applied to an item (default: nnU-Net's
            per-transform chances for "standard", 0.3 for "domain").

    Raises:
        SeguqError: an unknown kind.
    """
    if kind not in INTENSITY_AUGMENTS:
        raise SeguqError(
            f"data.intensity_augment: unknown '{kind}' (known: {', '.join(INTENSITY_AUGMENTS)})"
        )
    if kind == "none":
        return None
    keys = ["image"]
    if kind == "standard":

        def p(default: float) -> float:
            return default if probability is None else probability

        return Compose(
            [
                RandGaussianNoised(keys, std=0.1, prob=p(0.1)),
                RandGaussianSmoothd(keys, sigma_x=(0.5, 1.0), sigma_y=(0.5, 1.0), prob=p(0.2)),
                RandScaleIntensityd(keys, factors=0.25, prob=p(0.15)),
                RandAdjustContrastd(keys, gamma=(0.7, 1.5), prob=p(0.3)),
            ]
        )
    p = 0.3 if probability is None else probability
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
