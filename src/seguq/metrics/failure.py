"""Case-level failure detection: how well a per-case score ranks the cases by their error.

For each case score (the uncertainty score; the predicted Dice, turned into an uncertainty as
1 - predicted Dice), AURC and E-AURC with risk 1 - Dice (accepting the most confident cases
first), and the AUROC of detecting failed cases (Dice below a threshold) with the score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from seguq.metrics.error_detection import binary_auroc
from seguq.metrics.risk_coverage import aurc, e_aurc


def failure_detection(
    case_scores: Mapping[str, Sequence[float]],
    dice: Sequence[float],
    threshold: float = 0.7,
) -> dict:
    """Failure-detection metrics of every case score.

    Args:
        case_scores: name -> (N,) scores, higher = more likely to fail (an uncertainty).
        dice: (N,) the cases' Dice.
        threshold: a case with Dice below it has failed.

    Returns:
        {"threshold", "cases", "failed", "scores": {name: {"aurc", "e_aurc", "auroc"}}};
        "auroc" is None when no case or every case failed.
    """
    dice = np.asarray(dice, dtype=np.float64)
    failed = dice < threshold
    out: dict = {
        "threshold": threshold,
        "cases": int(dice.size),
        "failed": int(failed.sum()),
        "scores": {},
    }
    for name, values in case_scores.items():
        values = np.asarray(values, dtype=np.float64)
        auroc = binary_auroc(values, failed) if 0 < failed.sum() < failed.size else None
        out["scores"][name] = {
            "aurc": aurc(values, 1.0 - dice),
            "e_aurc": e_aurc(values, 1.0 - dice),
            "auroc": auroc,
        }
    return out
