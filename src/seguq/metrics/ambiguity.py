"""Ambiguity metrics of one case with several annotators: GED, Hungarian-matched IoU, NCC.

Inputs are label maps: ``samples`` (N, *spatial) int class indices (e.g. the argmax of each of
the S predicted samples of one image, ``probs[:, b].argmax(1)``) and ``annotations``
(M, *spatial) int class indices from M annotators.

The distance between two label maps is d(a, b) = 1 - IoU(a, b), where IoU is the mean over the
foreground classes (1..K-1) *present* in a or b of that class's intersection over union; when no
foreground class is present in either map (both all background), d = 0 (IoU = 1).

- ``generalised_energy_distance``: D^2_GED = 2 E[d(s, y)] - E[d(s, s')] - E[d(y, y')], the
  expectations over all ordered pairs, self-pairs included (as in the Probabilistic U-Net and
  PHiSeg evaluation code), so identical sample and annotation sets give exactly 0.
- ``hungarian_matched_iou``: the mean IoU of the best one-to-one matching between samples and
  annotations (``scipy.optimize.linear_sum_assignment``). When N != M both sets are replicated to
  their least common multiple (samples lcm/N times, annotations lcm/M times) before matching,
  as in the PHiSeg / Stochastic Segmentation Networks evaluation.
- ``uncertainty_disagreement_ncc``: the normalised cross-correlation (Pearson correlation over
  pixels) between an uncertainty map and the annotators' disagreement map, defined here as the
  fraction of annotators that disagree with the pixel-wise majority label
  (1 - count of the most frequent label / M; ties do not matter, only the count does). It works
  for any number of classes, unlike a variance of class indices. NaN when either map is constant
  (e.g. a single annotator, or full agreement).

These are per-case metrics: ``AmbiguityAccumulator`` averages the per-case values, skipping NaN.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from seguq.errors import SeguqError

__all__ = [
    "AmbiguityAccumulator",
    "annotator_disagreement",
    "generalised_energy_distance",
    "hungarian_matched_iou",
    "pairwise_iou",
    "uncertainty_disagreement_ncc",
]

ArrayLike = np.ndarray | torch.Tensor
PIXEL_CHUNK = 1 << 20  # pixels per matrix product: exact counts in float32, bounded memory


def _to_numpy(values: ArrayLike) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _label_set(values: ArrayLike, name: str, num_classes: int) -> np.ndarray:
    """(N, *spatial) int labels -> (N, P) int64, checked."""
    array = _to_numpy(values)
    if array.ndim < 2 or array.shape[0] < 1:
        raise SeguqError(
            f"{name}: expected (N, *spatial) label maps with N >= 1, got {array.shape}"
        )
    if not np.issubdtype(array.dtype, np.integer) and not np.issubdtype(array.dtype, np.bool_):
        raise SeguqError(f"{name}: expected integer class indices, got dtype {array.dtype}")
    flat = array.reshape(array.shape[0], -1).astype(np.int64)
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        raise SeguqError(
            f"{name}: class indices must be in [0, {num_classes - 1}], found values in "
            f"[{flat.min()}, {flat.max()}]"
        )
    return flat


def _check_pair(
    samples: ArrayLike, annotations: ArrayLike, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    if num_classes < 2:
        raise SeguqError(f"num_classes must be >= 2 (background + foreground), got {num_classes}")
    s = _label_set(samples, "samples", num_classes)
    a = _label_set(annotations, "annotations", num_classes)
    s_shape, a_shape = _to_numpy(samples).shape[1:], _to_numpy(annotations).shape[1:]
    if s_shape != a_shape:
        raise SeguqError(
            f"samples have spatial shape {s_shape} but annotations {a_shape}; they must match"
        )
    return s, a


def _iou_matrix(a: np.ndarray, b: np.ndarray, num_classes: int) -> np.ndarray:
    """IoU (N, M) between the rows of a (N, P) and b (M, P), as defined in the module doc."""
    iou_sum = np.zeros((a.shape[0], b.shape[0]))
    present = np.zeros((a.shape[0], b.shape[0]))
    for k in range(1, num_classes):
        intersection = np.zeros((a.shape[0], b.shape[0]))
        for start in range(0, a.shape[1], PIXEL_CHUNK):
            ak = (a[:, start : start + PIXEL_CHUNK] == k).astype(np.float32)
            bk = (b[:, start : start + PIXEL_CHUNK] == k).astype(np.float32)
            intersection += ak @ bk.T
        size_a = (a == k).sum(1).astype(np.float64)
        size_b = (b == k).sum(1).astype(np.float64)
        union = size_a[:, None] + size_b[None, :] - intersection
        here = union > 0
        iou_sum += np.where(here, intersection / np.where(here, union, 1.0), 0.0)
        present += here
    return np.where(present > 0, iou_sum / np.maximum(present, 1), 1.0)


def pairwise_iou(a: ArrayLike, b: ArrayLike, num_classes: int) -> np.ndarray:
    """IoU between every map of `a` and every map of `b`.

    IoU is the mean over the foreground classes present in either map; 1 when neither map has
    any foreground.

    Args:
        a: (N, *spatial) int class indices.
        b: (M, *spatial) int class indices.
        num_classes: K, including the background class 0.

    Returns:
        (N, M) float64 in [0, 1].

    Raises:
        SeguqError: mismatched spatial shapes, non-integer input, indices outside [0, K), K < 2.
    """
    a_flat, b_flat = _check_pair(a, b, num_classes)
    return _iou_matrix(a_flat, b_flat, num_classes)


def generalised_energy_distance(
    samples: ArrayLike, annotations: ArrayLike, num_classes: int
) -> float:
    """Squared generalised energy distance D^2_GED with d = 1 - IoU.

    D^2_GED = 2 E[d(s, y)] - E[d(s, s')] - E[d(y, y')], each expectation over all ordered pairs
    of the sets (self-pairs included).

    Args:
        samples: (N, *spatial) int class indices of the predicted samples.
        annotations: (M, *spatial) int class indices of the annotators' masks.
        num_classes: K, including the background class 0.

    Returns:
        D^2_GED >= 0 (0 for identical sets; 2 d(s, y) for N = M = 1).

    Raises:
        SeguqError: mismatched spatial shapes, non-integer input, indices outside [0, K), K < 2.
    """
    s, a = _check_pair(samples, annotations, num_classes)
    both = np.concatenate([s, a])
    distance = 1.0 - _iou_matrix(both, both, num_classes)
    n = s.shape[0]
    cross = distance[:n, n:].mean()
    within_samples = distance[:n, :n].mean()
    within_annotations = distance[n:, n:].mean()
    return float(2 * cross - within_samples - within_annotations)


def hungarian_matched_iou(samples: ArrayLike, annotations: ArrayLike, num_classes: int) -> float:
    """Mean IoU of the best one-to-one matching between samples and annotations.

    When N != M both sets are replicated to L = lcm(N, M) members (each sample L/N times, each
    annotation L/M times) and matched one to one.

    Args:
        samples: (N, *spatial) int class indices.
        annotations: (M, *spatial) int class indices.
        num_classes: K, including the background class 0.

    Returns:
        Matched IoU in [0, 1] (1 for identical sets).

    Raises:
        SeguqError: mismatched spatial shapes, non-integer input, indices outside [0, K), K < 2.
    """
    s, a = _check_pair(samples, annotations, num_classes)
    iou = _iou_matrix(s, a, num_classes)
    n, m = iou.shape
    size = math.lcm(n, m)
    tiled = np.tile(iou, (size // n, size // m))
    rows, cols = linear_sum_assignment(tiled, maximize=True)
    return float(tiled[rows, cols].mean())


def annotator_disagreement(annotations: ArrayLike) -> np.ndarray:
    """Fraction of annotators disagreeing with the pixel-wise majority label.

    Args:
        annotations: (M, *spatial) int class indices.

    Returns:
        (*spatial) float64 in [0, 1 - 1/M]: 1 - (count of the most frequent label) / M.

    Raises:
        SeguqError: not (M, *spatial) integer labels.
    """
    array = _to_numpy(annotations)
    if array.ndim < 2 or array.shape[0] < 1:
        raise SeguqError(f"annotations: expected (M, *spatial) label maps, got {array.shape}")
    if not np.issubdtype(array.dtype, np.integer) and not np.issubdtype(array.dtype, np.bool_):
        raise SeguqError(f"annotations: expected integer class indices, got dtype {array.dtype}")
    labels = array.astype(np.int64)
    counts = np.stack([(labels == value).sum(0) for value in np.unique(labels)])
    return 1.0 - counts.max(0) / labels.shape[0]


def uncertainty_disagreement_ncc(uncertainty: ArrayLike, annotations: ArrayLike) -> float:
    """Normalised cross-correlation of an uncertainty map with the annotators' disagreement.

    NCC = mean((u - mean u)(g - mean g)) / (std u * std g) over pixels, with g the fraction of
    annotators disagreeing with the majority (`annotator_disagreement`).

    Args:
        uncertainty: (*spatial) float map.
        annotations: (M, *spatial) int class indices.

    Returns:
        NCC in [-1, 1]; NaN when either map is constant (e.g. M = 1 or full agreement).

    Raises:
        SeguqError: mismatched shapes, non-finite uncertainty, non-integer annotations.
    """
    u = _to_numpy(uncertainty).astype(np.float64)
    g = annotator_disagreement(annotations)
    if u.shape != g.shape:
        raise SeguqError(
            f"uncertainty has shape {u.shape} but the annotations' maps {g.shape}; they must match"
        )
    if not np.isfinite(u).all():
        raise SeguqError("uncertainty contains NaN or infinite values")
    if u.size == 0 or np.ptp(u) == 0 or np.ptp(g) == 0:
        return math.nan
    u, g = u - u.mean(), g - g.mean()
    denominator = math.sqrt(float((u * u).mean()) * float((g * g).mean()))
    return float(np.clip((u * g).mean() / denominator, -1.0, 1.0))


class AmbiguityAccumulator:
    """Per-case GED, Hungarian-matched IoU and NCC over a data set, averaged over cases.

    Args:
        num_classes: K, including the background class 0.
    """

    METRICS = ("ged", "hm_iou", "ncc")

    def __init__(self, num_classes: int) -> None:
        if num_classes < 2:
            raise SeguqError(f"num_classes must be >= 2, got {num_classes}")
        self.num_classes = num_classes
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated so far."""
        self.per_case: dict[str, list[float]] = {name: [] for name in self.METRICS}

    def update(
        self,
        samples: ArrayLike,
        annotations: ArrayLike,
        uncertainty: ArrayLike | None = None,
    ) -> dict[str, float]:
        """Add one case.

        Args:
            samples: (N, *spatial) int class indices of the predicted samples.
            annotations: (M, *spatial) int class indices of the annotators.
            uncertainty: (*spatial) float uncertainty map; without it the case's NCC is NaN.

        Returns:
            The case's values {"ged", "hm_iou", "ncc"}.

        Raises:
            SeguqError: as the metric functions.
        """
        values = {
            "ged": generalised_energy_distance(samples, annotations, self.num_classes),
            "hm_iou": hungarian_matched_iou(samples, annotations, self.num_classes),
            "ncc": math.nan
            if uncertainty is None
            else uncertainty_disagreement_ncc(uncertainty, annotations),
        }
        for name, value in values.items():
            self.per_case[name].append(value)
        return values

    def compute(self) -> dict[str, dict[str, float]]:
        """Mean over the cases seen, skipping NaN.

        Returns:
            ``{metric: {"mean", "std", "n", "n_skipped"}}`` for ged, hm_iou and ncc; ``n`` counts
            the cases used, ``n_skipped`` those whose value was NaN; NaN statistics when none.
        """
        summary = {}
        for name, values in self.per_case.items():
            array = np.asarray(values, dtype=np.float64)
            valid = array[~np.isnan(array)]
            summary[name] = {
                "mean": float(valid.mean()) if valid.size else math.nan,
                "std": float(valid.std()) if valid.size else math.nan,
                "n": int(valid.size),
                "n_skipped": int(array.size - valid.size),
            }
        return summary
