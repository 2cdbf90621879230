"""How well uncertainty points at errors, pixel by pixel: AUROC, AUPR, FPR95 and UEO.

The positive class is a misclassified pixel (``predicted_labels(P) != labels``),
the score is the uncertainty. ``binary_auroc`` and ``average_precision`` are exact on the
given pixels (ties handled by tie groups; single-class input gives NaN). AUROC and AUPR are
not averageable over batches, so ``ErrorDetectionAccumulator`` keeps a seeded subsample of
pixels per case, each kept pixel weighted by (pixels in its case / pixels kept), and computes
once over the whole data set. The case-level risk-coverage metrics (AURC, E-AURC, the
filtered-Dice curve) are in `seguq.metrics.risk_coverage`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from seguq.errors import SeguqError

__all__ = [
    "ErrorDetectionAccumulator",
    "average_precision",
    "binary_auroc",
    "uncertainty_error_overlap",
    "weighted_fpr_at_tpr",
]

ArrayLike = np.ndarray | torch.Tensor | Sequence[float]


def _as_array(values: ArrayLike, name: str, dtype: type = np.float64) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values).reshape(-1).astype(dtype)
    if dtype is np.float64 and not np.isfinite(array).all():
        raise SeguqError(f"{name} contains NaN or infinite values")
    return array


def _pairs(
    scores: ArrayLike, labels: ArrayLike, weights: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = _as_array(scores, "scores")
    y = _as_array(labels, "labels", dtype=bool)
    w = np.ones_like(s) if weights is None else _as_array(weights, "weights")
    if not s.size == y.size == w.size:
        raise SeguqError(
            f"scores, labels and weights must have the same number of elements, got "
            f"{s.size}, {y.size} and {w.size}"
        )
    return s, y, w


def _tie_groups(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative weight per distinct score, highest score first."""
    if scores.size == 0:
        return np.zeros(0), np.zeros(0)
    order = np.argsort(-scores, kind="stable")
    s, y, w = scores[order], labels[order], weights[order]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(s)) + 1])
    positive = np.add.reduceat(np.where(y, w, 0.0), starts)
    negative = np.add.reduceat(np.where(y, 0.0, w), starts)
    return positive, negative


def binary_auroc(scores: ArrayLike, labels: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative) + 0.5 P(tie).

    This is the Mann-Whitney U statistic with average ranks for ties, U / (n_pos n_neg),
    evaluated per tie group so that it also accepts sample weights.

    Args:
        scores: (N,) higher = more likely positive.
        labels: (N,) bool or 0/1.
        weights: optional (N,) non-negative sample weights.

    Returns:
        AUROC in [0, 1]; NaN when only one class is present.

    Raises:
        SeguqError: for mismatched lengths or non-finite scores.
    """
    positive, negative = _tie_groups(*_pairs(scores, labels, weights))
    total_pos, total_neg = positive.sum(), negative.sum()
    if total_pos == 0 or total_neg == 0:
        return math.nan
    negative_below = total_neg - np.cumsum(negative)
    u_statistic = np.sum(positive * (negative_below + 0.5 * negative))
    return float(u_statistic / (total_pos * total_neg))


def weighted_fpr_at_tpr(
    scores: ArrayLike, labels: ArrayLike, weights: ArrayLike | None = None, tpr: float = 0.95
) -> float:
    """False-positive rate at the highest threshold t that keeps at least `tpr` of the positive
    weight at scores >= t: the weighted form of `seguq.metrics.ood.fpr_at_tpr` (the same number
    with unit weights).

    Returns:
        FPR in [0, 1]; NaN when only one class is present.

    Raises:
        SeguqError: for mismatched lengths, non-finite scores or tpr outside (0, 1].
    """
    if not 0.0 < tpr <= 1.0:
        raise SeguqError(f"tpr must be in (0, 1], got {tpr}")
    values, truth, w = _pairs(scores, labels, weights)
    positive_w, negative_w = w * truth, w * ~truth
    if positive_w.sum() == 0 or negative_w.sum() == 0:
        return math.nan
    order = np.argsort(-values[truth], kind="stable")
    ranked, kept = values[truth][order], np.cumsum(positive_w[truth][order])
    needed = round(tpr * positive_w.sum(), 9)
    threshold = ranked[min(int(np.searchsorted(kept, needed - 1e-12)), ranked.size - 1)]
    return float(negative_w[values >= threshold].sum() / negative_w.sum())


def average_precision(
    scores: ArrayLike, labels: ArrayLike, weights: ArrayLike | None = None
) -> float:
    """Average precision (area under the precision-recall curve, step-wise).

    AP = sum_t (R_t - R_{t-1}) P_t over the distinct score thresholds t, highest first; tied
    scores enter together (as in scikit-learn). A constant score gives the positive rate.

    Args:
        scores: (N,) higher = more likely positive.
        labels: (N,) bool or 0/1.
        weights: optional (N,) non-negative sample weights.

    Returns:
        AP in [0, 1]; NaN when only one class is present (undefined without positives,
        trivially 1 without negatives).

    Raises:
        SeguqError: for mismatched lengths or non-finite scores.
    """
    positive, negative = _tie_groups(*_pairs(scores, labels, weights))
    total_pos, total_neg = positive.sum(), negative.sum()
    if total_pos == 0 or total_neg == 0:
        return math.nan
    true_pos = np.cumsum(positive)
    precision = true_pos / (true_pos + np.cumsum(negative))
    return float(np.sum(positive / total_pos * precision))


def uncertainty_error_overlap(
    uncertainty: ArrayLike, errors: ArrayLike, weights: ArrayLike | None = None
) -> float:
    """UEO: max over thresholds t of Dice((uncertainty >= t), errors).

    Exact: every distinct uncertainty value is tried as a threshold.

    Args:
        uncertainty: (N,) or any shape, flattened.
        errors: same number of elements, bool error mask.
        weights: optional sample weights.

    Returns:
        UEO in [0, 1]; NaN when there is no error pixel.

    Raises:
        SeguqError: for mismatched lengths or non-finite values.
    """
    positive, negative = _tie_groups(*_pairs(uncertainty, errors, weights))
    total_pos = positive.sum()
    if total_pos == 0:
        return math.nan
    true_pos = np.cumsum(positive)
    flagged = true_pos + np.cumsum(negative)
    return float(np.max(2.0 * true_pos / (flagged + total_pos)))


class ErrorDetectionAccumulator:
    """Pixel-level error detection over a data set from a seeded per-case subsample.

    Each case keeps at most ``max_pixels_per_case`` (uncertainty, error) pairs, drawn without
    replacement by a generator seeded with ``seed`` (all pixels when the case is smaller); each
    kept pixel carries the weight n_case / n_kept, so the pooled metrics estimate the metrics
    over all pixels of the data set. The result depends on the order of updates only through
    the random stream.

    Args:
        max_pixels_per_case: pixels kept per case.
        seed: seed of the subsampling.

    Raises:
        SeguqError: if max_pixels_per_case < 1.
    """

    def __init__(self, max_pixels_per_case: int = 20000, seed: int = 0) -> None:
        if max_pixels_per_case < 1:
            raise SeguqError(f"max_pixels_per_case must be >= 1, got {max_pixels_per_case}")
        self.max_pixels_per_case = max_pixels_per_case
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated so far and restart the random stream."""
        self._rng = np.random.default_rng(self.seed)
        self._scores: list[np.ndarray] = []
        self._errors: list[np.ndarray] = []
        self._weights: list[np.ndarray] = []
        self._cases = 0
        self._pixels = 0

    def update(
        self, uncertainty: torch.Tensor, errors: torch.Tensor, mask: torch.Tensor | None = None
    ) -> None:
        """Add a batch of cases.

        Args:
            uncertainty: uncertainty map, (B, *spatial).
            errors: bool, True where the prediction is wrong, (B, *spatial); e.g.
                ``predicted_labels(P) != labels``.
            mask: bool (B, *spatial), the pixels that count (a region of interest); None: all.

        Raises:
            SeguqError: if the shapes differ or the uncertainty is not finite.
        """
        if uncertainty.shape != errors.shape or uncertainty.ndim < 1:
            raise SeguqError(
                f"uncertainty (B, *spatial) and errors must have the same shape, got "
                f"{tuple(uncertainty.shape)} and {tuple(errors.shape)}"
            )
        scores = uncertainty.detach().reshape(uncertainty.shape[0], -1).float().cpu().numpy()
        wrong = errors.detach().reshape(errors.shape[0], -1).bool().cpu().numpy()
        if not np.isfinite(scores).all():
            raise SeguqError("uncertainty map contains NaN or infinite values")
        keep = (
            mask.detach().reshape(mask.shape[0], -1).bool().cpu().numpy()
            if mask is not None
            else np.ones_like(wrong)
        )
        for case_scores, case_errors, case_keep in zip(scores, wrong, keep, strict=True):
            case_scores, case_errors = case_scores[case_keep], case_errors[case_keep]
            n = case_scores.size
            if n > self.max_pixels_per_case:
                keep = self._rng.choice(n, self.max_pixels_per_case, replace=False)
                case_scores, case_errors = case_scores[keep], case_errors[keep]
            self._scores.append(case_scores)
            self._errors.append(case_errors)
            self._weights.append(np.full(case_scores.size, n / case_scores.size))
            self._cases += 1
            self._pixels += n

    def compute(self) -> dict[str, float]:
        """Metrics over everything seen so far.

        Returns:
            ``{"auroc", "aupr", "ueo", "fpr95", "error_rate": float, "num_cases", "num_pixels",
            "num_sampled": int}``; the metrics are NaN when nothing (or one class) was seen.
        """
        scores = np.concatenate([np.zeros(0, np.float32), *self._scores]).astype(np.float64)
        errors = np.concatenate([np.zeros(0, bool), *self._errors])
        weights = np.concatenate([np.zeros(0), *self._weights])
        total = np.sum(weights)
        return {
            "auroc": binary_auroc(scores, errors, weights),
            "aupr": average_precision(scores, errors, weights),
            "ueo": uncertainty_error_overlap(scores, errors, weights),
            "fpr95": weighted_fpr_at_tpr(scores, errors, weights),
            "error_rate": float(np.sum(weights * errors) / total) if total else math.nan,
            "num_cases": self._cases,
            "num_pixels": self._pixels,
            "num_sampled": int(scores.size),
        }
