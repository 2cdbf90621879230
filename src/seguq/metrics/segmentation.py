"""Overlap and surface-distance metrics of one case, per class.

Inputs are label maps of one case, ``(*spatial)`` int class indices (numpy or torch), with an
optional voxel ``spacing`` (one value per spatial axis; distances are then in those units).

Empty-mask conventions, for a class c with prediction mask A and reference mask G:

==================  ======  ======  ======  ======
case                dice    iou     hd95    assd
==================  ======  ======  ======  ======
both empty          1.0     1.0     0.0     0.0
exactly one empty   0.0     0.0     NaN     NaN
==================  ======  ======  ======  ======

A distance to an empty set is undefined, so it is NaN rather than an arbitrary large number;
``aggregate_segmentation_scores`` skips NaN values and reports how many it skipped.

Surface distances follow MONAI (``monai.metrics.utils.get_edge_surface_distance``, Euclidean):
HD95 is the larger of the two directed 95th-percentile distances between the mask edges
(as ``compute_hausdorff_distance(..., percentile=95)``), ASSD the mean of both directed distance
sets together (as ``compute_average_surface_distance(..., symmetric=True)``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from seguq.errors import SeguqError

__all__ = [
    "SEGMENTATION_METRICS",
    "aggregate_segmentation_scores",
    "assd",
    "dice",
    "hd95",
    "iou",
    "segmentation_scores",
]

SEGMENTATION_METRICS = ("dice", "iou", "hd95", "assd")

LabelMap = np.ndarray | torch.Tensor


def _to_numpy(labels: LabelMap) -> np.ndarray:
    if isinstance(labels, torch.Tensor):
        return labels.detach().cpu().numpy()
    return np.asarray(labels)


def _masks(pred: LabelMap, gt: LabelMap, class_index: int) -> tuple[np.ndarray, np.ndarray]:
    pred_np, gt_np = _to_numpy(pred), _to_numpy(gt)
    if pred_np.shape != gt_np.shape:
        raise SeguqError(
            f"prediction shape {pred_np.shape} does not match reference shape {gt_np.shape}"
        )
    return pred_np == class_index, gt_np == class_index


def _check_spacing(spacing: Sequence[float] | None, ndim: int) -> tuple[float, ...] | None:
    if spacing is None:
        return None
    values = tuple(float(s) for s in spacing)
    if len(values) != ndim or any(not s > 0 for s in values):
        raise SeguqError(
            f"voxel spacing {values} must have {ndim} positive values, one per spatial axis"
        )
    return values


def _overlap(pred_mask: np.ndarray, gt_mask: np.ndarray) -> tuple[int, int, int]:
    intersection = int(np.logical_and(pred_mask, gt_mask).sum())
    return intersection, int(pred_mask.sum()), int(gt_mask.sum())


def dice(pred: LabelMap, gt: LabelMap, class_index: int = 1) -> float:
    """Dice coefficient 2|A∩G| / (|A| + |G|) of one class.

    Args:
        pred: predicted labels, (*spatial).
        gt: reference labels, (*spatial).
        class_index: the class to score.

    Returns:
        Dice in [0, 1]; 1.0 when both masks are empty, 0.0 when exactly one is.

    Raises:
        SeguqError: if the shapes differ.
    """
    intersection, n_pred, n_gt = _overlap(*_masks(pred, gt, class_index))
    if n_pred + n_gt == 0:
        return 1.0
    return 2.0 * intersection / (n_pred + n_gt)


def iou(pred: LabelMap, gt: LabelMap, class_index: int = 1) -> float:
    """Intersection over union |A∩G| / |A∪G| of one class.

    Args:
        pred: predicted labels, (*spatial).
        gt: reference labels, (*spatial).
        class_index: the class to score.

    Returns:
        IoU in [0, 1]; 1.0 when both masks are empty, 0.0 when exactly one is.

    Raises:
        SeguqError: if the shapes differ.
    """
    intersection, n_pred, n_gt = _overlap(*_masks(pred, gt, class_index))
    union = n_pred + n_gt - intersection
    if union == 0:
        return 1.0
    return intersection / union


def _surface_distances(
    pred_mask: np.ndarray, gt_mask: np.ndarray, spacing: Sequence[float] | None
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Directed edge distances (pred -> gt, gt -> pred); None when a mask is empty."""
    if not pred_mask.any() or not gt_mask.any():
        return None
    # Imported here: MONAI is slow to import and only the distance metrics need it.
    from monai.metrics.utils import get_edge_surface_distance

    with warnings.catch_warnings():
        # MONAI warns about its own deprecated arguments on every call.
        warnings.simplefilter("ignore")
        _, distances, _ = get_edge_surface_distance(
            torch.from_numpy(pred_mask),
            torch.from_numpy(gt_mask),
            distance_metric="euclidean",
            spacing=_check_spacing(spacing, pred_mask.ndim),
            symmetric=True,
            warn_empty=False,
        )
    return distances[0].double(), distances[1].double()


def _hd95(distances: tuple[torch.Tensor, torch.Tensor]) -> float:
    return max(float(torch.quantile(d, 0.95)) for d in distances)


def _assd(distances: tuple[torch.Tensor, torch.Tensor]) -> float:
    return float(torch.cat(distances).mean())


def _distance_metric(
    pred: LabelMap, gt: LabelMap, class_index: int, spacing: Sequence[float] | None, which: str
) -> float:
    pred_mask, gt_mask = _masks(pred, gt, class_index)
    _check_spacing(spacing, pred_mask.ndim)
    n_pred, n_gt = int(pred_mask.sum()), int(gt_mask.sum())
    if n_pred == 0 and n_gt == 0:
        return 0.0
    distances = _surface_distances(pred_mask, gt_mask, spacing)
    if distances is None:
        return math.nan
    return _hd95(distances) if which == "hd95" else _assd(distances)


def hd95(
    pred: LabelMap, gt: LabelMap, class_index: int = 1, spacing: Sequence[float] | None = None
) -> float:
    """95th-percentile symmetric Hausdorff distance between the edges of one class.

    Args:
        pred: predicted labels, (*spatial).
        gt: reference labels, (*spatial).
        class_index: the class to score.
        spacing: voxel size per spatial axis; None means 1 (distances in voxels).

    Returns:
        HD95 in spacing units; 0.0 when both masks are empty, NaN when exactly one is.

    Raises:
        SeguqError: if the shapes differ or the spacing does not fit.
    """
    return _distance_metric(pred, gt, class_index, spacing, "hd95")


def assd(
    pred: LabelMap, gt: LabelMap, class_index: int = 1, spacing: Sequence[float] | None = None
) -> float:
    """Average symmetric surface distance between the edges of one class.

    Args:
        pred: predicted labels, (*spatial).
        gt: reference labels, (*spatial).
        class_index: the class to score.
        spacing: voxel size per spatial axis; None means 1 (distances in voxels).

    Returns:
        ASSD in spacing units; 0.0 when both masks are empty, NaN when exactly one is.

    Raises:
        SeguqError: if the shapes differ or the spacing does not fit.
    """
    return _distance_metric(pred, gt, class_index, spacing, "assd")


def segmentation_scores(
    pred: LabelMap,
    gt: LabelMap,
    num_classes: int,
    spacing: Sequence[float] | None = None,
) -> dict[int, dict[str, float]]:
    """Dice, IoU, HD95 and ASSD of one case for every foreground class.

    Args:
        pred: predicted labels, (*spatial).
        gt: reference labels, (*spatial).
        num_classes: K, including background; classes 1..K-1 are scored.
        spacing: voxel size per spatial axis; None means 1.

    Returns:
        ``{class: {"dice", "iou", "hd95", "assd": float}}`` for classes 1..K-1, with the
        empty-mask conventions of this module.

    Raises:
        SeguqError: if the shapes differ, the spacing does not fit or ``num_classes < 2``.
    """
    if num_classes < 2:
        raise SeguqError(f"num_classes must be >= 2 (background plus one class), got {num_classes}")
    pred_np, gt_np = _to_numpy(pred), _to_numpy(gt)
    scores: dict[int, dict[str, float]] = {}
    for class_index in range(1, num_classes):
        pred_mask, gt_mask = _masks(pred_np, gt_np, class_index)
        spacing_checked = _check_spacing(spacing, pred_mask.ndim)
        intersection, n_pred, n_gt = _overlap(pred_mask, gt_mask)
        if n_pred == 0 and n_gt == 0:
            scores[class_index] = {"dice": 1.0, "iou": 1.0, "hd95": 0.0, "assd": 0.0}
            continue
        distances = _surface_distances(pred_mask, gt_mask, spacing_checked)
        scores[class_index] = {
            "dice": 2.0 * intersection / (n_pred + n_gt),
            "iou": intersection / (n_pred + n_gt - intersection),
            "hd95": math.nan if distances is None else _hd95(distances),
            "assd": math.nan if distances is None else _assd(distances),
        }
    return scores


def aggregate_segmentation_scores(
    per_case: Sequence[Mapping[int, Mapping[str, float]]],
) -> dict[int, dict[str, dict[str, float]]]:
    """Summarise per-case scores over a data set, skipping NaN (undefined distances).

    Args:
        per_case: one ``segmentation_scores`` result per case.

    Returns:
        ``{class: {metric: {"mean", "std", "median", "n", "n_skipped"}}}``; ``n`` counts the
        cases used, ``n_skipped`` those whose value was NaN. Statistics of a metric with no
        defined value are NaN.
    """
    collected: dict[int, dict[str, list[float]]] = {}
    for case in per_case:
        for class_index, metrics in case.items():
            for name, value in metrics.items():
                collected.setdefault(class_index, {}).setdefault(name, []).append(float(value))
    summary: dict[int, dict[str, dict[str, float]]] = {}
    for class_index, metrics in sorted(collected.items()):
        summary[class_index] = {}
        for name, values in metrics.items():
            array = np.asarray(values, dtype=np.float64)
            valid = array[~np.isnan(array)]
            defined = valid.size > 0
            summary[class_index][name] = {
                "mean": float(valid.mean()) if defined else math.nan,
                "std": float(valid.std()) if defined else math.nan,
                "median": float(np.median(valid)) if defined else math.nan,
                "n": int(valid.size),
                "n_skipped": int(array.size - valid.size),
            }
    return summary
