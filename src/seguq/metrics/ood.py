"""Out-of-distribution detection from image-level scores (METHODS.md §4-5).

OOD is the positive class and a higher score means more likely OOD (e.g. ``image_score`` of an
uncertainty map). The scores of the in-distribution and the shifted set are compared directly;
ties are handled as in ``binary_auroc`` / ``average_precision``.
"""

from __future__ import annotations

import math

import numpy as np

from seguq.errors import SeguqError
from seguq.metrics.error_detection import ArrayLike, _as_array, average_precision, binary_auroc

__all__ = ["fpr_at_tpr", "ood_scores", "ood_threshold"]


def _scores(in_scores: ArrayLike, out_scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    inside = _as_array(in_scores, "in_scores")
    outside = _as_array(out_scores, "out_scores")
    if inside.size == 0 or outside.size == 0:
        raise SeguqError(
            f"OOD metrics need in- and out-of-distribution scores, got {inside.size} and "
            f"{outside.size}"
        )
    return inside, outside


def fpr_at_tpr(in_scores: ArrayLike, out_scores: ArrayLike, tpr: float = 0.95) -> float:
    """False-positive rate at the highest threshold that flags at least ``tpr`` of OOD cases.

    The threshold t is the largest score with #(out >= t) >= ceil(tpr * n_out); the result is
    the fraction of in-distribution scores >= t. Exact, no interpolation.

    Args:
        in_scores: (N_in,) scores of in-distribution cases.
        out_scores: (N_out,) scores of OOD cases.
        tpr: required true-positive rate in (0, 1].

    Returns:
        FPR in [0, 1].

    Raises:
        SeguqError: for empty or non-finite inputs, or tpr outside (0, 1].
    """
    if not 0.0 < tpr <= 1.0:
        raise SeguqError(f"tpr must be in (0, 1], got {tpr}")
    inside, outside = _scores(in_scores, out_scores)
    # round() first so that 0.95 * 20 = 19.000000000000004 still needs 19 cases, not 20.
    needed = max(1, math.ceil(round(tpr * outside.size, 9)))
    threshold = np.sort(outside)[::-1][needed - 1]
    return float(np.mean(inside >= threshold))


def ood_scores(in_scores: ArrayLike, out_scores: ArrayLike) -> dict[str, float]:
    """AUROC, AUPR (average precision, OOD positive) and FPR at 95% TPR.

    Args:
        in_scores: (N_in,) scores of in-distribution cases.
        out_scores: (N_out,) scores of OOD cases; higher = more OOD.

    Returns:
        ``{"auroc", "aupr", "fpr95": float}``.

    Raises:
        SeguqError: for empty or non-finite inputs.
    """
    inside, outside = _scores(in_scores, out_scores)
    scores = np.concatenate([inside, outside])
    is_ood = np.concatenate([np.zeros(inside.size, bool), np.ones(outside.size, bool)])
    return {
        "auroc": binary_auroc(scores, is_ood),
        "aupr": average_precision(scores, is_ood),
        "fpr95": fpr_at_tpr(inside, outside, 0.95),
    }


def ood_threshold(in_scores: ArrayLike, quantile: float = 0.95) -> float:
    """Flagging threshold calibrated on in-distribution validation scores.

    Args:
        in_scores: (N,) scores of in-distribution validation cases.
        quantile: in [0, 1]; about ``1 - quantile`` of in-distribution cases will be flagged.

    Returns:
        The ``quantile`` empirical quantile (linear interpolation) of ``in_scores``.

    Raises:
        SeguqError: for empty or non-finite input or a quantile outside [0, 1].
    """
    if not 0.0 <= quantile <= 1.0:
        raise SeguqError(f"quantile must be in [0, 1], got {quantile}")
    inside = _as_array(in_scores, "in_scores")
    if inside.size == 0:
        raise SeguqError("cannot calibrate an OOD threshold on zero in-distribution scores")
    return float(np.quantile(inside, quantile))
