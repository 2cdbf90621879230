"""A case loaded into arrays on its own grid (z-scored image, class-index masks), and slicing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seguq.data.case import Case
from seguq.data.io import Geometry, check_same_shape, read_image, read_mask, to_classes
from seguq.data.preprocess import normalize_intensity
from seguq.data.sources import Source


@dataclass
class CaseArrays:
    """One case in memory.

    Attributes:
        case: the case read.
        image: float32 `(C, *spatial)`, z-scored per channel (unless read with normalise False).
        masks: int64 `(R, *spatial)` class indices from R annotators, or None if unlabelled.
        geometry: the image's geometry (for writing outputs on its grid).
    """

    case: Case
    image: np.ndarray
    masks: np.ndarray | None
    geometry: Geometry


def load_case(case: Case, source: Source, normalise: bool = True) -> CaseArrays:
    """Read a case's image and masks, check that they share a grid, map mask labels.

    Args:
        case: the case to read.
        source: its source (for the label map).
        normalise: z-score the image per channel (False: the intensities as read, for display).

    Returns:
        The image (normalised unless asked otherwise, `(C, *spatial)`), masks `(R, *spatial)` or
        None, geometry.

    Raises:
        SeguqError: a file is missing, corrupt or not an image; a mask's shape differs from
            the image's; a mask holds values outside the label map.
    """
    image, geometry = read_image(case.images)
    masks = None
    if case.masks:
        layers = []
        for path in case.masks:
            raw, _ = read_mask(path)
            check_same_shape(image, raw, case.image, path)
            layers.append(to_classes(raw, source.label_map, path))
        masks = np.stack(layers, axis=0)
    image = normalize_intensity(image) if normalise else image
    return CaseArrays(case=case, image=image, masks=masks, geometry=geometry)


def _check_volume(array: np.ndarray, axis: int) -> None:
    if array.ndim != 4:
        raise ValueError(f"expected a (C, X, Y, Z) array, got shape {array.shape}")
    if axis not in (0, 1, 2):
        raise ValueError(f"slice axis must be 0, 1 or 2, not {axis}")


def to_slices(array: np.ndarray, axis: int) -> list[np.ndarray]:
    """Cut a volume into 2D slices along a spatial axis.

    Args:
        array: `(C, X, Y, Z)` image or `(R, X, Y, Z)` masks.
        axis: spatial axis 0, 1 or 2 (X, Y or Z).

    Returns:
        `array.shape[axis + 1]` contiguous arrays of shape `(C, h, w)` (the two other axes, in
        order).

    Raises:
        ValueError: `array` is not 4D or `axis` is not 0..2.
    """
    _check_volume(array, axis)
    moved = np.moveaxis(array, axis + 1, 0)
    return [np.ascontiguousarray(piece) for piece in moved]


def from_slices(slices: list[np.ndarray], axis: int) -> np.ndarray:
    """Stack 2D slices back into a volume (the inverse of :func:`to_slices`).

    Args:
        slices: arrays of shape `(C, h, w)`, all equal.
        axis: the spatial axis they were cut along (0, 1 or 2).

    Returns:
        `(C, X, Y, Z)` array.

    Raises:
        ValueError: no slices, or `axis` is not 0..2.
    """
    if not slices:
        raise ValueError("from_slices needs at least one slice")
    if axis not in (0, 1, 2):
        raise ValueError(f"slice axis must be 0, 1 or 2, not {axis}")
    return np.stack(slices, axis=axis + 1)
