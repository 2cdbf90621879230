"""One case's image, ground truth, prediction and uncertainty maps, cut to the 2D picture to draw.

The image is shown as acquired (the file's intensities, not the network's z-scored input): 8-bit
pictures as they are, other images and volumes windowed between their 0.5th and 99.5th
percentiles. 3D volumes are shown on the slice (along the last axis, the usual NIfTI slice
axis) that holds the most foreground of the ground truth, else of the prediction, else the
middle slice; slices are rotated by 90 degrees so that NIfTI voxel order reads as a usual
radiological view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seguq.data.arrays import load_case
from seguq.data.case import Case
from seguq.data.io import read_mask
from seguq.data.maps import MAP_ENDINGS, MASK_ENDINGS, find_output, read_map
from seguq.data.sources import Source
from seguq.errors import SeguqError

SLICE_AXIS = -1


@dataclass
class CaseView:
    """2D arrays of one case, ready to draw.

    Attributes:
        image: (H, W) grey or (H, W, 3) colour, as acquired, scaled to [0, 1]; None when not
            found.
        truth: (H, W) class indices of the first annotator, or None.
        pred: (H, W) predicted class indices, or None.
        maps: uncertainty maps (H, W) by name ("total", "epistemic", ...).
        levels: per-level maps: {map name: {level name: (H, W)}}.
        where: "" for 2D cases, "slice k of n" for volumes.
        notes: what could not be read.
    """

    image: np.ndarray | None = None
    truth: np.ndarray | None = None
    pred: np.ndarray | None = None
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    levels: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    where: str = ""
    notes: list[str] = field(default_factory=list)


def display_image(image: np.ndarray) -> np.ndarray:
    """(C, *spatial) intensities as read from the file -> the same grid scaled to [0, 1], channels
    last for colour: 8-bit values (0..255) divided by 255, anything else windowed between its
    0.5th and 99.5th percentiles (a volume's window comes from the whole volume)."""
    picture = np.moveaxis(image[:3], 0, -1) if image.shape[0] >= 3 else image[0]
    if picture.size == 0:
        return picture.astype(np.float32)
    if picture.min() >= 0 and picture.max() <= 255 and np.all(picture == np.round(picture)):
        low, high = 0.0, 255.0
    else:
        low, high = (float(v) for v in np.percentile(picture, [0.5, 99.5]))
    scale = high - low if high > low else 1.0
    return np.clip((picture - low) / scale, 0.0, 1.0).astype(np.float32)


def choose_slice(labels: np.ndarray | None, depth: int) -> int:
    """The index along the last axis with the most foreground (> 0), else the middle one."""
    if labels is not None and labels.ndim >= 1 and labels.shape[-1] == depth:
        counts = (labels > 0).reshape(-1, depth).sum(0)
        if counts.max(initial=0) > 0:
            return int(np.argmax(counts))
    return depth // 2


def _read_maps(folder: Path, stem: str, names: list[str], ndim: int, notes: list[str]) -> dict:
    maps = {}
    for name in names:
        path = find_output(folder, stem, name, MAP_ENDINGS)
        if path is None:
            continue
        try:
            values = read_map(path, ndim)
        except SeguqError as error:
            notes.append(str(error))
            continue
        maps[name] = values[0] if values.ndim == ndim + 1 else values
    return maps


def load_view(
    pred_dir: Path | None,
    info: dict,
    case_id: str,
    case: Case | None = None,
    source: Source | None = None,
) -> CaseView:
    """Read one case's arrays and cut them to the picture to draw.

    Args:
        pred_dir: the prediction folder (None: only the image and ground truth).
        info: its prediction.json (maps, levels, auxiliary maps); {} reads the `total` map.
        case_id: the case's id in the prediction folder.
        case, source: the case and its data source, for the image and ground truth (optional).
    """
    view = CaseView()
    image = truth = pred = None
    if case is not None and source is not None:
        try:
            arrays = load_case(case, source, normalise=False)  # the image as acquired
            image = arrays.image
            truth = arrays.masks[0] if arrays.masks is not None else None
        except SeguqError as error:
            view.notes.append(f"image not shown: {error}")
    mask_path = find_output(pred_dir, case_id, "mask", MASK_ENDINGS) if pred_dir else None
    if mask_path is not None:
        try:
            pred = read_mask(mask_path)[0]
        except SeguqError as error:
            view.notes.append(str(error))
    reference = next((a for a in (pred, truth) if a is not None), None)
    if reference is None and image is not None:
        reference = image[0]
    if reference is None:
        return view
    ndim, shape = reference.ndim, reference.shape
    if image is not None and image.shape[1:] != shape:
        view.notes.append(f"image of shape {image.shape[1:]} differs from {shape}: not shown")
        image = truth = None
    maps: dict[str, np.ndarray] = {}
    levels: dict[str, dict[str, np.ndarray]] = {}
    if pred_dir is not None:
        names = list(info.get("maps") or (["total"] if not info else []))
        names += [n for n in info.get("auxiliary_maps") or [] if n not in names]
        maps = _read_maps(pred_dir, case_id, names, ndim, view.notes)
        for level in info.get("levels") or []:
            found = _read_maps(pred_dir, f"{case_id}_{level}", names, ndim, view.notes)
            for name, values in found.items():
                levels.setdefault(name, {})[level] = values
    cut = _cutter(ndim, shape, truth if truth is not None else pred, view)
    if image is not None:
        view.image = _cut_picture(display_image(image), image.shape[0] >= 3, cut)
    view.truth = cut(truth) if truth is not None else None
    view.pred = cut(pred) if pred is not None else None
    view.maps = {n: cut(v) for n, v in maps.items() if v.shape == shape}
    view.levels = {
        n: {lv: cut(v) for lv, v in by_level.items() if v.shape == shape}
        for n, by_level in levels.items()
    }
    return view


def _cut_picture(picture: np.ndarray, colour: bool, cut) -> np.ndarray:
    """Cut a displayed picture (spatial axes first, then the colour axis when `colour`)."""
    if colour:
        return np.stack([cut(picture[..., c]) for c in range(picture.shape[-1])], axis=-1)
    return cut(picture)


def _cutter(ndim: int, shape: tuple[int, ...], labels: np.ndarray | None, view: CaseView):
    """A function taking an array on the case's grid to its 2D picture."""
    if ndim == 2:
        return lambda array: array
    depth = shape[-1]
    index = choose_slice(labels, depth)
    view.where = f"slice {index + 1} of {depth}"

    def cut(array: np.ndarray) -> np.ndarray:
        return np.rot90(array[..., index], axes=(-2, -1)).copy()

    return cut
