"""nnU-Net's per-case probability files, read onto and written from seguq's grid.

`nnUNetv2_predict --save_probabilities` writes `<case>.npz` (key `probabilities`, v1: `softmax`)
of shape (K, *spatial) and `<case>.pkl` with the case's properties. nnU-Net's spatial axes are
SimpleITK's, the reverse of nibabel's: a NIfTI volume that nibabel reads as (X, Y, Z) is
(Z, Y, X) there, and a 2D NIfTI (X, Y) is (1, Y, X). Its `NibabelIOWithReorient` reader also
turns volumes to RAS first (the `.pkl` then holds both affines). 2D image files (PNG, TIFF) are
(1, H, W), the rows and columns seguq uses. nnU-Net v1 stored the probabilities of the cropped
foreground box only (`crop_bbox` in the `.pkl`); outside it the background has probability 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation, ornt_transform

from seguq.data.io import Geometry, atomic_write
from seguq.errors import SeguqError
from seguq.interop.safe_pickle import load_plain_pickle

PROBABILITY_KEYS = ("probabilities", "softmax")  # v2, v1
# nnU-Net's spacing of the dummy first axis of a 2D image.
_FLAT_AXIS_SPACING = 999.0


def read_probabilities(npz: Path, geometry: Geometry) -> np.ndarray:
    """One fold's class probabilities of one case, (K, *geometry.shape) float32 on seguq's grid.

    Args:
        npz: the fold's `<case>.npz`; its `<case>.pkl` beside it is read when present.
        geometry: the case's input image geometry (the grid the result must fit).

    Raises:
        SeguqError: unreadable files, no probability array, a shape that does not fit the
            image, or values that are not per-voxel class probabilities.
    """
    npz = Path(npz)
    pkl = npz.with_suffix(".pkl")
    properties = load_plain_pickle(pkl) if pkl.is_file() else {}
    if not isinstance(properties, dict):
        raise SeguqError(f"{pkl}: expected a dict of properties, got {type(properties).__name__}")
    array = _load_array(npz)
    array = _uncrop_v1(array, properties, npz)
    if geometry.format == "nifti":
        array = _nifti_axes(array, properties, geometry, npz)
    elif array.ndim == len(geometry.shape) + 2 and array.shape[1] == 1:
        array = array[:, 0]
    if tuple(array.shape[1:]) != tuple(geometry.shape):
        raise SeguqError(
            f"{npz}: probabilities of spatial shape {tuple(array.shape[1:])} (on seguq's axes) "
            f"do not fit the image's {tuple(geometry.shape)}"
        )
    array = np.ascontiguousarray(array, dtype=np.float32)
    _check_probabilities(array, npz)
    return array


def _load_array(npz: Path) -> np.ndarray:
    try:
        with np.load(npz, allow_pickle=False) as archive:
            for key in PROBABILITY_KEYS:
                if key in archive.files:
                    return np.asarray(archive[key])
            keys = ", ".join(archive.files) or "none"
    except FileNotFoundError:
        raise SeguqError(f"{npz}: does not exist") from None
    except (OSError, ValueError) as error:
        raise SeguqError(f"{npz}: not a readable .npz file ({error})") from None
    raise SeguqError(f"{npz}: no 'probabilities' (or v1 'softmax') array (keys: {keys})")


def _uncrop_v1(array: np.ndarray, properties: dict, npz: Path) -> np.ndarray:
    """nnU-Net v1's probabilities of the crop box, put back into the whole image."""
    box, full = properties.get("crop_bbox"), properties.get("original_size_of_raw_data")
    if box is None or full is None:
        return array
    full = tuple(int(s) for s in full)
    if tuple(array.shape[1:]) == full:
        return array
    slices = tuple(slice(int(lo), int(hi)) for lo, hi in box)
    if tuple(s.stop - s.start for s in slices) != tuple(array.shape[1:]):
        raise SeguqError(
            f"{npz}: probabilities of shape {array.shape[1:]} fit neither the image "
            f"{full} nor its crop box {box}"
        )
    whole = np.zeros((array.shape[0], *full), dtype=np.float32)
    whole[0] = 1.0
    whole[(slice(None), *slices)] = array
    return whole


def _nifti_axes(array: np.ndarray, properties: dict, geometry: Geometry, npz: Path) -> np.ndarray:
    """nnU-Net's (K, [1,] Z, Y, X) -> nibabel's (K, X, Y, Z), undoing a RAS reorientation."""
    if array.ndim == len(geometry.shape) + 2 and array.shape[1] == 1:
        array = array[:, 0]
    array = array.transpose(0, *range(array.ndim - 1, 0, -1))
    stuff = properties.get("nibabel_stuff") or {}
    if "reoriented_affine" not in stuff:
        return array
    reoriented = np.asarray(stuff["reoriented_affine"], dtype=np.float64)
    original = np.asarray(stuff["original_affine"], dtype=np.float64)
    change = ornt_transform(io_orientation(reoriented), io_orientation(original))
    if not np.allclose(reoriented @ inv_ornt_aff(change, array.shape[1:]), original, atol=1e-4):
        raise SeguqError(f"{npz.with_suffix('.pkl')}: its two affines are not one reorientation")
    return np.stack([apply_orientation(channel, change) for channel in array])


def _check_probabilities(array: np.ndarray, npz: Path) -> None:
    if array.shape[0] < 2:
        raise SeguqError(f"{npz}: {array.shape[0]} class channel(s); expected background and more")
    if not np.isfinite(array).all():
        raise SeguqError(f"{npz}: probabilities contain NaN or infinite values")
    sums = array.sum(axis=0)
    if array.min() < -1e-3 or array.max() > 1.001 or np.abs(sums - 1.0).max() > 0.02:
        raise SeguqError(
            f"{npz}: values are not class probabilities summing to 1 per voxel (region-based "
            "nnU-Net models, with sigmoid outputs, are not supported)"
        )


# --- writing -----------------------------------------------------------------------------


def nnunet_layout(probs: np.ndarray, geometry: Geometry) -> tuple[np.ndarray, dict]:
    """seguq's (K, *geometry.shape) probabilities as nnU-Net's array and properties."""
    if geometry.format == "nifti":
        array = probs.transpose(0, *range(probs.ndim - 1, 0, -1))
        zooms = [float(z) for z in geometry.spacing]
        if len(geometry.shape) == 2:
            array = array[:, None]
            spacing = [max(zooms) * _FLAT_AXIS_SPACING, *zooms[::-1]]
        else:
            spacing = zooms[::-1]
        properties = {"sitk_stuff": _itk_geometry(geometry), "spacing": spacing}
    else:
        array = probs[:, None]
        properties = {"spacing": [_FLAT_AXIS_SPACING, 1.0, 1.0]}
    shape = [int(s) for s in array.shape[1:]]
    properties |= {
        "shape_before_cropping": shape,
        "bbox_used_for_cropping": [[0, s] for s in shape],
        "shape_after_cropping_and_before_resampling": shape,
    }
    return np.ascontiguousarray(array, dtype=np.float32), properties


def _itk_geometry(geometry: Geometry) -> dict:
    """SimpleITK's spacing, origin and direction (LPS) of a NIfTI affine."""
    n = len(geometry.shape)
    affine = np.asarray(geometry.affine, dtype=np.float64)
    zooms = np.asarray(geometry.spacing[:n], dtype=np.float64)
    ras_to_lps = np.diag([-1.0, -1.0, 1.0])[:n, :n]
    direction = ras_to_lps @ (affine[:n, :n] / zooms)
    origin = ras_to_lps @ affine[:n, 3]
    return {
        "spacing": tuple(float(z) for z in zooms),
        "origin": tuple(float(o) for o in origin),
        "direction": tuple(float(d) for d in direction.flatten()),
    }


def write_case(out: Path, case_id: str, probs: np.ndarray, geometry: Geometry) -> None:
    """`<case>.npz` (key `probabilities`) and `<case>.pkl` as nnU-Net writes them."""
    import pickle

    array, properties = nnunet_layout(probs, geometry)
    atomic_write(Path(out) / f"{case_id}.npz", lambda tmp: _save_npz(tmp, array))
    atomic_write(
        Path(out) / f"{case_id}.pkl", lambda tmp: tmp.write_bytes(pickle.dumps(properties))
    )


def _save_npz(path: Path, array: np.ndarray) -> None:
    with path.open("wb") as handle:  # a file object: numpy would add ".npz" to a name
        np.savez_compressed(handle, probabilities=array)


def write_folder_files(out: Path, class_names: list[str], image_format: str, ending: str) -> None:
    """`dataset.json` and `plans.json`, the two files nnU-Net's ensembling and post-processing
    read from a prediction folder: the labels, the file ending and the image reader.

    Args:
        out: the prediction folder.
        class_names: one per class, background first.
        image_format, ending: the inputs' format and file ending (`seguq.data.io.file_format`).
    """
    dataset = {
        "name": "seguq prediction",
        "labels": {name: index for index, name in enumerate(class_names)},
        "file_ending": ending,
        "channel_names": {"0": "image"},
        "numTraining": 0,
    }
    reader = "SimpleITKIO" if image_format == "nifti" else "NaturalImage2DIO"
    plans = {
        "dataset_name": "seguq",
        "plans_name": "seguq",
        "image_reader_writer": reader,
        "label_manager": "LabelManager",
        "transpose_forward": [0, 1, 2],
        "transpose_backward": [0, 1, 2],
        "configurations": {},
    }
    for name, payload in (("dataset.json", dataset), ("plans.json", plans)):
        text = json.dumps(payload, indent=2)
        atomic_write(Path(out) / name, lambda tmp, text=text: tmp.write_text(text))
