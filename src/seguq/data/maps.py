"""Reading back the outputs of `seguq predict`: float maps and masks, by case id."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import tifffile

from seguq.errors import SeguqError

MAP_ENDINGS = (".npy", ".tif", ".tiff", ".nii.gz", ".nii")
MASK_ENDINGS = (".png", ".nii.gz", ".nii")


def find_output(folder: Path, case_id: str, kind: str, endings: tuple[str, ...]) -> Path | None:
    """The file `<folder>/<case_id>_<kind><ending>` for the first ending that exists, else None."""
    for ending in endings:
        path = folder / f"{case_id}_{kind}{ending}"
        if path.is_file():
            return path
    return None


def read_map(path: Path, spatial_ndim: int) -> np.ndarray:
    """A float map written by `write_map`, channels first.

    Args:
        path: a .npy, float TIFF or NIfTI file.
        spatial_ndim: 2 for images, 3 for volumes (a NIfTI with one more axis has channels last).

    Returns:
        float32 `(*spatial)` or `(C, *spatial)`.

    Raises:
        SeguqError: unreadable file.
    """
    name = path.name.lower()
    try:
        if name.endswith(".npy"):
            values = np.load(path, allow_pickle=False)
        elif name.endswith((".tif", ".tiff")):
            values = tifffile.imread(path)
        else:
            values = np.asanyarray(nib.load(path).dataobj)
            if values.ndim == spatial_ndim + 2 and values.shape[spatial_ndim] == 1:
                values = values[(slice(None),) * spatial_ndim + (0,)]  # 2D grid: (X, Y, 1, C)
            if values.ndim == spatial_ndim + 1:
                values = np.moveaxis(values, -1, 0)
    except Exception as error:  # noqa: BLE001 - report any reader failure as bad input
        raise SeguqError(
            f"{path}: cannot read this map ({type(error).__name__}: {error})"
        ) from error
    return np.asarray(values, dtype=np.float32)
