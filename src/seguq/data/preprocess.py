"""A run's preprocessing: from a raw image to network input (channels, resampling to the target
spacing, intensity normalisation), and the way back to the input's grid for the outputs.

The same object serves training (images and masks) and prediction (images, then the samples
restored), so that both see identical input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from seguq.data.io import Geometry
from seguq.errors import SeguqError

# A resampling that changes no axis by more than this fraction is skipped.
SPACING_TOLERANCE = 0.05
LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


def normalize_intensity(image: np.ndarray) -> np.ndarray:
    """Z-score each channel over the whole image (a constant channel becomes zeros).

    Args:
        image: `(C, *spatial)` intensities.

    Returns:
        float32 `(C, *spatial)`; a new array.
    """
    data = np.asarray(image, dtype=np.float64)  # float64: raw MRI values reach 1e6
    axes = tuple(range(1, data.ndim))
    mean = data.mean(axis=axes, keepdims=True)
    std = data.std(axis=axes, keepdims=True)
    scale = np.where(std > 0, std, 1.0)
    return ((data - mean) / scale).astype(np.float32)


def normalize_ct(image: np.ndarray, stats: Sequence[float]) -> np.ndarray:
    """CT: clip to the foreground's [0.5, 99.5] percentiles, then z-score with the foreground's
    mean and standard deviation over the training set (nnU-Net's scheme).

    Args:
        image: `(C, *spatial)` Hounsfield units.
        stats: (low, high, mean, std).
    """
    low, high, mean, std = (float(v) for v in stats)
    return ((np.clip(image, low, high) - mean) / std).astype(np.float32)


def match_channels(image: np.ndarray, channels: int, path: Path | str) -> np.ndarray:
    """Convert an image to the channel count a network expects.

    3 -> 1 by the channel mean, 1 -> 3 by repeating; equal counts pass unchanged.

    Args:
        image: `(C, *spatial)`.
        channels: the wanted C.
        path: the image file, for the message.

    Returns:
        `(channels, *spatial)`, same dtype.

    Raises:
        SeguqError: any other conversion (e.g. 4 -> 3, 2 -> 1).
    """
    have = image.shape[0]
    if have == channels:
        return image
    if have == 3 and channels == 1:
        return image.mean(axis=0, keepdims=True).astype(image.dtype)
    if have == 1 and channels == 3:
        return np.repeat(image, 3, axis=0)
    raise SeguqError(f"{path}: image has {have} channels, the model expects {channels}")


@dataclass(frozen=True)
class Preprocessing:
    """How one run prepares images.

    Attributes:
        normalization: "zscore" or "ct".
        ct_stats: (low, high, mean, std) for "ct".
        target_spacing: the spacing images are resampled to (one value per spatial axis); ()
            keeps each image's grid.
        in_channels: the network's channel count (0: keep the image's).
    """

    normalization: str = "zscore"
    ct_stats: tuple[float, ...] = ()
    target_spacing: tuple[float, ...] = ()
    in_channels: int = 0

    @classmethod
    def of(cls, data) -> Preprocessing:
        """The preprocessing of a run's `DataConfig`."""
        return cls(
            normalization=data.normalization,
            ct_stats=tuple(data.ct_stats),
            target_spacing=tuple(data.target_spacing),
            in_channels=data.in_channels,
        )

    def grid(self, geometry: Geometry) -> tuple[int, ...]:
        """The spatial shape the network sees for an image on `geometry`.

        Raises:
            SeguqError: the target spacing has another number of axes than the image.
        """
        if not self.target_spacing:
            return tuple(geometry.shape)
        spacing = geometry.spacing or (1.0,) * len(geometry.shape)
        if len(self.target_spacing) != len(geometry.shape):
            raise SeguqError(
                f"data.target_spacing {list(self.target_spacing)} has "
                f"{len(self.target_spacing)} axes, the image has {len(geometry.shape)}"
            )
        shape = []
        for size, have, want in zip(geometry.shape, spacing, self.target_spacing, strict=True):
            factor = float(have) / float(want)
            keep = abs(factor - 1) <= SPACING_TOLERANCE
            shape.append(size if keep else max(1, round(size * factor)))
        return tuple(shape)

    def image(self, raw: np.ndarray, geometry: Geometry, path: Path | str) -> np.ndarray:
        """Network input of a raw image: channels matched, resampled, normalised.

        Args:
            raw: `(C, *spatial)` intensities as read.
            geometry: its geometry.
            path: the image file, for messages.

        Returns:
            float32 `(C', *grid)`.
        """
        image = raw if not self.in_channels else match_channels(raw, self.in_channels, path)
        image = resample(image.astype(np.float32), self.grid(geometry), "linear")
        if self.normalization == "ct":
            return normalize_ct(image, self.ct_stats)
        return normalize_intensity(image)

    def masks(self, masks: np.ndarray, geometry: Geometry) -> np.ndarray:
        """Class-index masks `(R, *spatial)` on the network's grid (nearest neighbour)."""
        return resample(masks, self.grid(geometry), "nearest").astype(np.int64)

    def restore(self, values: torch.Tensor, geometry: Geometry, *, normalise: bool) -> torch.Tensor:
        """Network outputs `(S, K, *grid)` back on the input's grid `(S, K, *geometry.shape)`
        (linear interpolation; probabilities renormalised over K when `normalise`)."""
        shape = tuple(geometry.shape)
        if tuple(values.shape[2:]) == shape:
            return values
        mode = LINEAR[len(shape)]
        out = F.interpolate(values.float(), size=shape, mode=mode, align_corners=False)
        return out / out.sum(1, keepdim=True).clamp_min(1e-12) if normalise else out


def resample(array: np.ndarray, shape: Sequence[int], mode: str) -> np.ndarray:
    """Resample `(C, *spatial)` to `(C, *shape)`; "linear" (anti-aliased when 2D shrinks) or
    "nearest" (labels). The same array when the shape does not change."""
    shape = tuple(int(s) for s in shape)
    if tuple(array.shape[1:]) == shape:
        return array
    tensor = torch.from_numpy(np.ascontiguousarray(array))[None]
    if mode == "nearest":
        out = F.interpolate(tensor.float(), size=shape, mode="nearest-exact")
        return out[0].to(torch.int64).numpy()
    shrinks = any(s < a for s, a in zip(shape, array.shape[1:], strict=True))
    out = F.interpolate(
        tensor.float(),
        size=shape,
        mode=LINEAR[len(shape)],
        align_corners=False,
        antialias=shrinks and len(shape) == 2,
    )
    return out[0].numpy()
