"""Writing outputs on the input's grid: masks and float maps, always atomically.

NIfTI inputs give NIfTI outputs with the input's affine and header; 2D inputs give PNG masks and
`.npy` or float TIFF maps. Every file is written to a temporary name in its folder and renamed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import tifffile
from PIL import Image

from seguq.data.io import FLOAT_FORMATS, Geometry
from seguq.errors import SeguqError

# Float types of written maps: float16 by default (half the size; ~3 significant digits).
MAP_DTYPES = ("float16", "float32")


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Write a file through a temporary name in the same folder, then rename it into place.

    The temporary name keeps the final name's ending (writers choose compression by it) and
    starts with "." so that folder scans skip it. Readers never see a half-written file.

    Args:
        path: the final file path (its folder is created if needed).
        write: called with the temporary path; must write the whole file there.

    Returns:
        `path`.

    Raises:
        Whatever `write` raises; the temporary file is removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".tmp-{uuid.uuid4().hex[:12]}-{path.name}")
    try:
        write(temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def output_suffix(geometry: Geometry, kind: str, float_format: str = "npy") -> str:
    """The file ending of an output written on `geometry`.

    Args:
        geometry: the input's geometry.
        kind: "mask" (class indices) or "map" (float values).
        float_format: "npy" or "tiff", for maps of 2D inputs.

    Returns:
        ".nii.gz"/".nii" for NIfTI inputs; ".png" for 2D masks; ".npy" or ".tif" for 2D maps.

    Raises:
        SeguqError: unknown `float_format` or `dtype`.
        ValueError: unknown `kind`.
    """
    if kind not in ("mask", "map"):
        raise ValueError(f"kind must be 'mask' or 'map', not {kind!r}")
    if float_format not in FLOAT_FORMATS:
        raise SeguqError(
            f"float format '{float_format}': expected one of {', '.join(FLOAT_FORMATS)}"
        )
    if geometry.format == "nifti":
        return geometry.suffix if geometry.suffix in (".nii", ".nii.gz") else ".nii.gz"
    if kind == "mask":
        return ".png"
    return ".npy" if float_format == "npy" else ".tif"


def _with_suffix(path: Path, suffix: str) -> Path:
    path = Path(path)
    return path.with_name(path.name + suffix)


def _nifti_header(geometry: Geometry, dtype: np.dtype) -> nib.Nifti1Header:
    header = geometry.header
    header = header.copy() if isinstance(header, nib.Nifti1Header) else nib.Nifti1Header()
    header.set_data_dtype(dtype)
    header.set_slope_inter(1.0, 0.0)
    header["cal_min"] = 0.0
    header["cal_max"] = 0.0
    return header


def _check_spatial(shape: tuple[int, ...], geometry: Geometry, what: str) -> None:
    if tuple(shape) != tuple(geometry.shape):
        raise ValueError(f"{what} of shape {tuple(shape)} do not match geometry {geometry.shape}")


def write_mask(path: Path, labels: np.ndarray, geometry: Geometry) -> Path:
    """Write class indices on the input's grid.

    NIfTI inputs give NIfTI (uint8, or int16 beyond 255) with the input's affine and header;
    2D inputs give a lossless uint8 PNG, whatever the input's format.

    Args:
        path: output path WITHOUT ending (e.g. `out/case1_mask`); the ending is appended.
        labels: int class indices `(*spatial)`, equal to `geometry.shape`.
        geometry: the input's geometry.

    Returns:
        The path written, with its ending.

    Raises:
        ValueError: `labels` does not match the geometry, or does not fit the file type.
    """
    labels = np.asarray(labels)
    _check_spatial(labels.shape, geometry, "labels")
    final = _with_suffix(path, output_suffix(geometry, "mask"))
    low, high = (int(labels.min()), int(labels.max())) if labels.size else (0, 0)
    if geometry.format == "nifti":
        dtype = np.dtype(np.uint8) if low >= 0 and high <= 255 else np.dtype(np.int16)
        if low < -32768 or high > 32767:
            raise ValueError(f"labels in [{low}, {high}] do not fit int16")
        data = labels.astype(dtype)
        image = nib.Nifti1Image(data, geometry.affine, _nifti_header(geometry, dtype))
        return atomic_write(final, lambda temp: nib.save(image, temp))
    if low < 0 or high > 255:
        raise ValueError(f"labels in [{low}, {high}] do not fit a uint8 PNG")
    picture = Image.fromarray(labels.astype(np.uint8))
    return atomic_write(final, lambda temp: picture.save(temp, format="PNG"))


def write_map(
    path: Path,
    values: np.ndarray,
    geometry: Geometry,
    float_format: str = "npy",
    dtype: str = "float32",
) -> Path:
    """Write float maps (probabilities, uncertainty) on the input's grid.

    NIfTI inputs give float32 NIfTI with the input's affine; channels go on the 4th axis
    after three spatial ones (a 2D NIfTI input gets a third axis of size 1), as MONAI writes
    them. 2D image inputs give `.npy` or a float32 TIFF (channels as pages), as
    `float_format` says, in `dtype` ("float16" halves the size; NIfTI is always float32, the
    type NIfTI readers know).

    Args:
        path: output path WITHOUT ending (e.g. `out/case1_entropy`); the ending is appended.
        values: float `(*spatial)` or `(C, *spatial)`, spatial equal to `geometry.shape`.
        geometry: the input's geometry.
        float_format: "npy" or "tiff" (2D inputs only).
        dtype: "float32" or "float16" (2D inputs only).

    Returns:
        The path written, with its ending.

    Raises:
        SeguqError: unknown `float_format` or `dtype`.
        ValueError: `values` does not match the geometry.
    """
    if dtype not in MAP_DTYPES:
        raise SeguqError(f"--map-dtype: expected one of {', '.join(MAP_DTYPES)}, got '{dtype}'")
    values = np.asarray(values, dtype=np.float32)
    ndim = len(geometry.shape)
    has_channels = values.ndim == ndim + 1
    _check_spatial(values.shape[1:] if has_channels else values.shape, geometry, "values")
    final = _with_suffix(path, output_suffix(geometry, "map", float_format))
    if geometry.format == "nifti":
        header = _nifti_header(geometry, np.dtype(np.float32))
        data = values
        if has_channels:
            # Channels on the 4th axis after three spatial ones (MONAI's layout); a 2D input
            # gets a third axis of one voxel (1 mm), not its header's unused third zoom.
            data = np.moveaxis(values, 0, -1)
            if ndim == 2:
                data = data[:, :, None, :]
                header.set_data_shape(data.shape)
                header.set_zooms((*geometry.spacing[:2], 1.0, 1.0))
            header["descrip"] = b"seguq: dims 1-3 = input grid, dim 4 = channels"
        image = nib.Nifti1Image(np.ascontiguousarray(data), geometry.affine, header)
        return atomic_write(final, lambda temp: nib.save(image, temp))
    values = values.astype(dtype)
    if float_format == "npy":
        return atomic_write(final, lambda temp: np.save(temp, values))
    return atomic_write(
        final, lambda temp: tifffile.imwrite(temp, values, photometric="minisblack")
    )
