"""Case-level risk-coverage metrics (METHODS.md §5): AURC, E-AURC and the filtered-Dice curve.

The risk of an image is 1 - Dice; cases are ranked by confidence (low uncertainty first). Where
uncertainties tie, the order among them is arbitrary, so the curves here use the expectation over
a uniformly random order of the tied cases.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seguq.errors import SeguqError
from seguq.metrics.error_detection import ArrayLike, _as_array

__all__ = ["aurc", "e_aurc", "filtered_dice_auc", "filtered_dice_curve", "optimal_aurc"]


def _image_pairs(uncertainty: ArrayLike, values: ArrayLike, name: str) -> tuple[np.ndarray, ...]:
    u = _as_array(uncertainty, "image_uncertainty")
    v = _as_array(values, name)
    if u.size != v.size or u.size == 0:
        raise SeguqError(
            f"image_uncertainty and {name} must be non-empty and of equal length, got "
            f"{u.size} and {v.size}"
        )
    return u, v


def _expected_cumsum(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Cumulative sums of ``values`` ordered by ascending key, averaged over tie orders."""
    order = np.argsort(keys, kind="stable")
    k, v = keys[order], values[order]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(k)) + 1])
    sizes = np.diff(np.concatenate([starts, [k.size]]))
    group_sum = np.add.reduceat(v, starts)
    before = np.cumsum(group_sum) - group_sum
    group = np.repeat(np.arange(starts.size), sizes)
    rank_in_group = np.arange(k.size) - starts[group] + 1
    return before[group] + rank_in_group / sizes[group] * group_sum[group]


def _aurc_of(order_keys: np.ndarray, risk: np.ndarray) -> float:
    coverage_counts = np.arange(1, risk.size + 1)
    return float(np.mean(_expected_cumsum(order_keys, risk) / coverage_counts))


def aurc(image_uncertainty: ArrayLike, image_risk: ArrayLike) -> float:
    """Area under the risk-coverage curve.

    Cases are accepted most confident (lowest uncertainty) first; AURC is the mean of the
    selective risk (mean risk of the accepted cases) over coverages 1/N, 2/N, ..., N/N.

    Args:
        image_uncertainty: (N,) one score per case.
        image_risk: (N,) e.g. 1 - Dice.

    Returns:
        AURC, in the units of the risk.

    Raises:
        SeguqError: for empty or mismatched inputs, or non-finite values.
    """
    uncertainty, risk = _image_pairs(image_uncertainty, image_risk, "image_risk")
    return _aurc_of(uncertainty, risk)


def optimal_aurc(image_risk: ArrayLike) -> float:
    """AURC of the oracle ranking (cases sorted by their own risk).

    Args:
        image_risk: (N,) e.g. 1 - Dice.

    Returns:
        The smallest AURC any ranking can reach.

    Raises:
        SeguqError: for empty input or non-finite values.
    """
    risk = _as_array(image_risk, "image_risk")
    if risk.size == 0:
        raise SeguqError("image_risk must be non-empty")
    return _aurc_of(risk, risk)


def e_aurc(image_uncertainty: ArrayLike, image_risk: ArrayLike) -> float:
    """Excess AURC: AURC - optimal AURC (0 for a ranking as good as the oracle).

    Args:
        image_uncertainty: (N,) one score per case.
        image_risk: (N,) e.g. 1 - Dice.

    Returns:
        E-AURC >= 0.

    Raises:
        SeguqError: for empty or mismatched inputs, or non-finite values.
    """
    uncertainty, risk = _image_pairs(image_uncertainty, image_risk, "image_risk")
    return _aurc_of(uncertainty, risk) - _aurc_of(risk, risk)


DEFAULT_RETAINED_FRACTIONS = tuple(round(1.0 - 0.1 * i, 10) for i in range(10))


def filtered_dice_curve(
    image_uncertainty: ArrayLike,
    image_dice: ArrayLike,
    fractions: Sequence[float] = DEFAULT_RETAINED_FRACTIONS,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean Dice of the cases retained when the most uncertain ones are referred.

    For each retained fraction f, the ceil(f N) least uncertain cases are kept (at least one).

    Args:
        image_uncertainty: (N,) one score per case.
        image_dice: (N,) Dice per case.
        fractions: retained fractions in (0, 1]; default 1.0, 0.9, ..., 0.1.

    Returns:
        ``(fractions, mean_dice)``, each (F,), in the order of ``fractions``.

    Raises:
        SeguqError: for empty or mismatched inputs, non-finite values or a fraction outside
            (0, 1].
    """
    uncertainty, dice_values = _image_pairs(image_uncertainty, image_dice, "image_dice")
    retained = np.asarray(fractions, dtype=np.float64).reshape(-1)
    if retained.size == 0 or np.any((retained <= 0) | (retained > 1)):
        raise SeguqError(f"retained fractions must lie in (0, 1], got {list(retained)}")
    cumulative = _expected_cumsum(uncertainty, dice_values)
    kept = np.maximum(1, np.ceil(retained * uncertainty.size - 1e-9).astype(int))
    return retained, cumulative[kept - 1] / kept


def filtered_dice_auc(
    image_uncertainty: ArrayLike,
    image_dice: ArrayLike,
    fractions: Sequence[float] = DEFAULT_RETAINED_FRACTIONS,
) -> float:
    """Area under the filtered-Dice curve, trapezoid rule over the retained fraction.

    Not normalised: with the default fractions (0.1..1.0) a perfect Dice of 1 gives 0.9.

    Args:
        image_uncertainty: (N,) one score per case.
        image_dice: (N,) Dice per case.
        fractions: retained fractions in (0, 1], at least two.

    Returns:
        The area.

    Raises:
        SeguqError: as ``filtered_dice_curve``, or fewer than two fractions.
    """
    retained, mean_dice = filtered_dice_curve(image_uncertainty, image_dice, fractions)
    if retained.size < 2:
        raise SeguqError("filtered_dice_auc needs at least two retained fractions")
    order = np.argsort(retained)
    x, y = retained[order], mean_dice[order]
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))
