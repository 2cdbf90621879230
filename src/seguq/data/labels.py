"""Checking masks against their images and mapping raw mask values to class indices."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seguq.errors import SeguqError


def to_classes(raw: np.ndarray, label_map: dict[int, int], path: Path) -> np.ndarray:
    """Map raw mask values to class indices.

    Args:
        raw: integer mask values, any shape (e.g. (H, W) or (X, Y, Z)).
        label_map: raw value -> class index.
        path: the mask file, for the error message.

    Returns:
        int64 class indices, same shape as `raw`.

    Raises:
        SeguqError: the mask holds values that are not keys of the label map.
    """
    keys = np.array(sorted(label_map), dtype=np.int64)
    values = np.array([label_map[int(k)] for k in keys], dtype=np.int64)
    raw = np.asarray(raw)
    if keys.size == 0:
        found = np.unique(raw)
        raise SeguqError(
            f"{path}: mask values {_short_list(found)} are not in the label map {label_map}"
        )
    index = np.clip(np.searchsorted(keys, raw), 0, keys.size - 1)
    known = keys[index] == raw
    if not known.all():
        unknown = np.unique(raw[~known])
        raise SeguqError(
            f"{path}: mask values {_short_list(unknown)} are not in the label map {label_map}"
        )
    return values[index]


def _short_list(values: np.ndarray, limit: int = 10) -> str:
    items = [str(int(v)) for v in values[:limit]]
    if len(values) > limit:
        items.append("...")
    return "[" + ", ".join(items) + "]"


def check_same_shape(
    image: np.ndarray, mask: np.ndarray, image_path: Path | str, mask_path: Path | str
) -> None:
    """Check that a mask covers its image's grid.

    Args:
        image: (C, *spatial) image.
        mask: (*spatial) mask.
        image_path: the image file, for the message.
        mask_path: the mask file, for the message.

    Raises:
        SeguqError: `image.shape[1:] != mask.shape`; the message names both files and shapes.
    """
    if tuple(image.shape[1:]) != tuple(mask.shape):
        raise SeguqError(
            f"{mask_path}: mask shape {tuple(mask.shape)} does not match the shape "
            f"{tuple(image.shape[1:])} of image {image_path}"
        )


# --- writing -----------------------------------------------------------------------------
