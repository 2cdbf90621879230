"""Reading and writing images and masks together with their geometry.

The file type is chosen by the file name's ending: Pillow for PNG/JPEG, tifffile for TIFF,
nibabel for NIfTI (`.nii`, `.nii.gz`). Images come back channels-first as float32
`(C, *spatial)`, masks as int64 `(*spatial)` raw values; a :class:`Geometry` remembers what is
needed to write results on the input's grid (NIfTI affine and header, 2D file format).

Every problem with a user's file raises :class:`~seguq.errors.SeguqError` with a one-line
message that names the file. Every write goes through :func:`atomic_write`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from seguq.data.channels_4d import check_channels_4d
from seguq.errors import SeguqError

# name ending (lower case) -> format; longest endings first so ".nii.gz" wins over ".gz".
_FORMATS: tuple[tuple[str, str], ...] = (
    (".nii.gz", "nifti"),
    (".nii", "nifti"),
    (".png", "png"),
    (".jpg", "jpeg"),
    (".jpeg", "jpeg"),
    (".tif", "tiff"),
    (".tiff", "tiff"),
)
IMAGE_SUFFIXES: tuple[str, ...] = tuple(ending for ending, _ in _FORMATS)
FLOAT_FORMATS = ("npy", "tiff")


@dataclass(frozen=True, eq=False)
class Geometry:
    """Where an image's pixels live, enough to write results on the same grid.

    Attributes:
        format: "png" | "jpeg" | "tiff" | "nifti".
        shape: spatial shape as stored: (H, W) for 2D files, (X, Y, Z) for NIfTI.
        affine: (4, 4) voxel-to-world matrix for NIfTI, None for 2D files.
        header: a copy of the nibabel header for NIfTI, None for 2D files.
        spacing: voxel size per spatial axis (1.0 for each axis of a 2D file).
        suffix: the input's file ending: ".png", ".jpg", ".tif", ".nii.gz" or ".nii".
    """

    format: str
    shape: tuple[int, ...]
    affine: np.ndarray | None = None
    header: object | None = None
    spacing: tuple[float, ...] = ()
    suffix: str = ".png"

    def __eq__(self, other: object) -> bool:
        """Same format, grid, spacing and affine (headers are not compared)."""
        if not isinstance(other, Geometry):
            return NotImplemented
        if (self.format, self.shape, self.suffix) != (other.format, other.shape, other.suffix):
            return False
        if len(self.spacing) != len(other.spacing):
            return False
        if not np.allclose(self.spacing, other.spacing):
            return False
        if self.affine is None or other.affine is None:
            return self.affine is None and other.affine is None
        return bool(np.allclose(self.affine, other.affine))

    def __hash__(self) -> int:
        return hash((self.format, self.shape, self.suffix))


def file_format(path: Path) -> tuple[str, str]:
    """The format and the matched ending of a file name.

    Args:
        path: any file path.

    Returns:
        (format, ending), e.g. ("nifti", ".nii.gz").

    Raises:
        SeguqError: the ending is not one of the supported image types.
    """
    name = Path(path).name.lower()
    for ending, fmt in _FORMATS:
        if name.endswith(ending):
            return fmt, ending
    raise SeguqError(
        f"{path}: not an image (unknown file type; expected .png, .jpg, .jpeg, .tif, .tiff, "
        ".nii or .nii.gz)"
    )


def strip_image_suffix(name: str) -> str:
    """A file name without its image ending ("case1.nii.gz" -> "case1")."""
    lower = name.lower()
    for ending, _ in _FORMATS:
        if lower.endswith(ending):
            return name[: -len(ending)]
    return Path(name).stem


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    detail = text[0] if text else ""
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise SeguqError(f"{path}: file not found")
    if not path.is_file():
        raise SeguqError(f"{path}: not a file")


# --- raw readers: (array, geometry), array in the file's own layout -------------------------


def _read_pillow(path: Path, fmt: str, ending: str) -> tuple[Image.Image, Geometry]:
    try:
        with Image.open(path) as opened:
            opened.load()
            img = opened.copy()
    except UnidentifiedImageError:
        raise SeguqError(f"{path}: not an image (cannot be decoded as {fmt.upper()})") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise SeguqError(f"{path}: corrupt or unreadable image ({_one_line(error)})") from None
    geometry = Geometry(
        format=fmt, shape=(img.height, img.width), spacing=(1.0, 1.0), suffix=_suffix_2d(ending)
    )
    return img, geometry


def _suffix_2d(ending: str) -> str:
    return {".jpeg": ".jpg", ".tiff": ".tif"}.get(ending, ending)


def _read_tiff(path: Path, ending: str) -> tuple[np.ndarray, str, Geometry]:
    """Returns the array, its tifffile axes string (e.g. "YX", "YXS", "CYX") and the geometry."""
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            array = series.asarray()
            axes = series.axes
    except tifffile.TiffFileError:
        raise SeguqError(f"{path}: not an image (cannot be decoded as TIFF)") from None
    except (OSError, ValueError, IndexError, KeyError) as error:
        raise SeguqError(f"{path}: corrupt or unreadable TIFF ({_one_line(error)})") from None
    array = np.asarray(array)
    if array.ndim < 2:
        raise SeguqError(f"{path}: TIFF has shape {array.shape}, expected a 2D image")
    spatial = array.shape[:2] if axes.endswith("S") else array.shape[-2:]
    geometry = Geometry(
        format="tiff", shape=tuple(int(s) for s in spatial), spacing=(1.0, 1.0), suffix=".tif"
    )
    return array, axes, geometry


def _read_nifti(path: Path, ending: str) -> tuple[np.ndarray, Geometry]:
    try:
        img = nib.load(path)
        array = np.asanyarray(img.dataobj)
    except Exception as error:  # nibabel raises many types for corrupt files
        raise SeguqError(f"{path}: corrupt or unreadable NIfTI ({_one_line(error)})") from None
    if array.ndim == 5 and array.shape[3] == 1:  # ITK vector images: (X, Y, Z, 1, C)
        array = array[:, :, :, 0, :]
    if array.ndim not in (2, 3, 4):
        raise SeguqError(f"{path}: NIfTI has shape {array.shape}, expected 2D, 3D or 4D")
    spatial = array.shape[:3] if array.ndim == 4 else array.shape
    zooms = img.header.get_zooms()[: len(spatial)]
    geometry = Geometry(
        format="nifti",
        shape=tuple(int(s) for s in spatial),
        affine=np.array(img.affine, dtype=np.float64),
        header=img.header.copy(),
        spacing=tuple(float(z) for z in zooms),
        suffix=ending,
    )
    return array, geometry


def _check_finite(array: np.ndarray, path: Path, what: str) -> None:
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise SeguqError(f"{path}: {what} contains NaN or infinite values")


# --- images ------------------------------------------------------------------------------


def _image_from_pillow(img: Image.Image) -> np.ndarray:
    """Pillow image -> (C, H, W) array."""
    if img.mode in ("RGBA", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "RGBX", "RGBa"):
        img = img.convert("RGB")
    elif img.mode in ("LA", "La", "1"):
        img = img.convert("L")
    array = np.asarray(img)
    return array[None] if array.ndim == 2 else np.moveaxis(array[..., :3], -1, 0)


def _image_from_tiff(array: np.ndarray, axes: str, path: Path) -> np.ndarray:
    """TIFF array -> (C, H, W): samples-last ("YXS") or channels-first ("CYX", pages)."""
    if array.ndim == 2:
        return array[None]
    if axes.endswith("S") and array.ndim == 3:
        keep = 3 if array.shape[-1] >= 3 else 1  # drop alpha (RGBA -> RGB, grey+alpha -> grey)
        return np.moveaxis(array[..., :keep], -1, 0)
    if array.ndim == 3:
        return array
    raise SeguqError(f"{path}: TIFF has shape {array.shape} (axes {axes}), expected a 2D image")


def _read_one_image(path: Path) -> tuple[np.ndarray, Geometry]:
    path = Path(path)
    fmt, ending = file_format(path)
    _check_exists(path)
    if fmt == "nifti":
        raw, geometry = _read_nifti(path, ending)
        if raw.ndim == 4:
            check_channels_4d(path, raw.shape)
        image = raw[None] if raw.ndim in (2, 3) else np.moveaxis(raw, -1, 0)
    elif fmt == "tiff":
        raw, axes, geometry = _read_tiff(path, ending)
        image = _image_from_tiff(raw, axes, path)
    else:
        img, geometry = _read_pillow(path, fmt, ending)
        image = _image_from_pillow(img)
    image = np.asarray(image, dtype=np.float32)
    _check_finite(image, path, "image")
    return np.ascontiguousarray(image), geometry


def read_image(paths: Path | Sequence[Path]) -> tuple[np.ndarray, Geometry]:
    """Read an image, or several channel files, channels first.

    Grey 2D images give C=1, RGB(A) give C=3 (alpha dropped; palette, LA and 16-bit modes are
    converted); NIfTI 3D gives (1, X, Y, Z) in the file's voxel order, NIfTI 4D (X, Y, Z, C)
    gives (C, X, Y, Z). Several paths (nnU-Net `_0000`, `_0001` files) are stacked along C.

    Args:
        paths: one image file, or the channel files of one image (same spatial shape).

    Returns:
        (image, geometry): image float32 `(C, *spatial)`; the geometry of the first file.

    Raises:
        SeguqError: a file is missing, corrupt, not an image, holds NaN/Inf values, or the
            channel files' spatial shapes differ.
    """
    path_list = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not path_list:
        raise ValueError("read_image needs at least one path")
    arrays: list[np.ndarray] = []
    geometry: Geometry | None = None
    for path in path_list:
        image, geom = _read_one_image(Path(path))
        if geometry is None:
            geometry = geom
        elif image.shape[1:] != arrays[0].shape[1:]:
            raise SeguqError(
                f"{path}: spatial shape {image.shape[1:]} differs from {path_list[0]}'s "
                f"{arrays[0].shape[1:]} (channel files of one image must match)"
            )
        arrays.append(image)
    assert geometry is not None
    image = arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=0)
    return image, geometry


# --- masks -------------------------------------------------------------------------------


def _decode_colour_mask(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) colour mask -> (H, W) values.

    Equal channels give the first channel. Otherwise the M&Ms encoding: channel c > 127 means
    class c + 1 (where several channels are > 127, the brightest, then the first, wins).
    """
    if (rgb == rgb[..., :1]).all():
        return rgb[..., 0]
    on = rgb > 127
    brightness = np.where(on, rgb.astype(np.int32), -1)
    return np.where(on.any(-1), np.argmax(brightness, axis=-1) + 1, 0)


def _integer_values(array: np.ndarray, path: Path) -> np.ndarray:
    if np.issubdtype(array.dtype, np.bool_):
        return array.astype(np.int64)
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64)
    array = np.asarray(array, dtype=np.float64)
    _check_finite(array, path, "mask")
    rounded = np.round(array)
    off = np.abs(array - rounded) > 1e-3
    if off.any():
        example = float(array[off].flat[0])
        raise SeguqError(f"{path}: mask has non-integer values (e.g. {example:g}), expected labels")
    return rounded.astype(np.int64)


def read_mask(path: Path) -> tuple[np.ndarray, Geometry]:
    """Read a mask's raw integer values.

    Palette PNGs give their palette indices, colour masks with equal channels their first
    channel, colour masks with different channels the M&Ms encoding (channel c > 127 ->
    value c + 1, else 0); NIfTI masks are rounded to integers.

    Args:
        path: the mask file.

    Returns:
        (values, geometry): values int64 `(*spatial)`, (H, W) or (X, Y, Z).

    Raises:
        SeguqError: the file is missing, corrupt, not an image, holds NaN/Inf or non-integer
            values, or has more than one channel where one is expected.
    """
    path = Path(path)
    fmt, ending = file_format(path)
    _check_exists(path)
    if fmt == "nifti":
        raw, geometry = _read_nifti(path, ending)
        if raw.ndim == 4 and raw.shape[3] == 1:
            raw = raw[..., 0]
        elif raw.ndim == 4:
            raise SeguqError(f"{path}: mask has shape {raw.shape}, expected one channel")
        values = _integer_values(raw, path)
    elif fmt == "tiff":
        raw, axes, geometry = _read_tiff(path, ending)
        if raw.ndim == 3 and axes.endswith("S"):
            raw = _decode_colour_mask(raw[..., :3]) if raw.shape[-1] >= 3 else raw[..., 0]
        elif raw.ndim == 3 and raw.shape[0] == 1:
            raw = raw[0]
        elif raw.ndim != 2:
            raise SeguqError(f"{path}: mask has shape {raw.shape}, expected a 2D mask")
        values = _integer_values(raw, path)
    else:
        img, geometry = _read_pillow(path, fmt, ending)
        if img.mode in ("RGBA", "RGBX", "CMYK", "YCbCr"):
            img = img.convert("RGB")
        raw = np.asarray(img)
        if img.mode in ("LA", "La", "PA"):  # grey or palette index plus alpha
            raw = raw[..., 0]
        elif raw.ndim == 3:
            raw = _decode_colour_mask(raw[..., :3])
        values = _integer_values(raw, path)
    return np.ascontiguousarray(values), geometry


# Label checks and writers live in their own modules; re-exported so that `seguq.data.io` stays
# the one entry point.
from seguq.data.labels import check_same_shape, to_classes  # noqa: E402
from seguq.data.writers import (  # noqa: E402
    atomic_write,
    output_suffix,
    write_map,
    write_mask,
)

__all__ = [
    "FLOAT_FORMATS",
    "Geometry",
    "atomic_write",
    "check_same_shape",
    "file_format",
    "output_suffix",
    "read_image",
    "read_mask",
    "strip_image_suffix",
    "to_classes",
    "write_map",
    "write_mask",
]
