"""Confidence intervals for benchmark tables: a paired bootstrap over test cases and seeds.

A method's score on a protocol varies with the test cases drawn and with the training seed, so
both are resampled: each bootstrap replicate draws the seeds with replacement and, independently,
the test cases with replacement, and recomputes the statistic over that draw. Comparisons between
two methods are *paired*: the same seeds (by seed number) and the same cases enter both methods'
values in a replicate, so what is shared between them (an easy case, a lucky split) cancels. The
interval is the percentile interval of the replicates (95% by default).

A difference "differs from the baseline" when its interval excludes 0; methods are ranked only
where intervals separate (`ranks`). With one seed the seed resampling is trivial and the interval
covers the test cases only: such an interval says nothing about another training run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95


def _interval(replicates: np.ndarray, estimate: float, level: float) -> dict:
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(replicates, [tail, 100.0 - tail])
    return {"estimate": float(estimate), "low": float(low), "high": float(high), "level": level}


def bootstrap_mean(
    values: np.ndarray,
    baseline: np.ndarray | None = None,
    *,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
) -> dict:
    """Interval of the mean of `values` (seeds x cases), or of the mean paired difference
    `values - baseline` (same shape, same seeds and cases in the same order).

    Returns:
        {"estimate", "low", "high", "level"}.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"expected a non-empty (seeds, cases) array, got shape {values.shape}")
    if baseline is not None:
        baseline = np.asarray(baseline, dtype=float)
        if baseline.shape != values.shape:
            raise ValueError(f"paired arrays differ in shape: {values.shape} vs {baseline.shape}")
        values = values - baseline
    seeds, cases = values.shape
    rng = np.random.default_rng(seed)
    seed_draws = rng.integers(0, seeds, size=(resamples, seeds))
    case_draws = rng.integers(0, cases, size=(resamples, cases))
    # mean over a draw = mean over drawn seeds of (mean over drawn cases), as both are uniform
    replicates = np.array(
        [values[np.ix_(s, c)].mean() for s, c in zip(seed_draws, case_draws, strict=True)]
    )
    return _interval(replicates, values.mean(), level)


def auroc(negatives: np.ndarray, positives: np.ndarray) -> float:
    """P(positive score > negative score) + 0.5 P(equal): the Mann-Whitney AUROC."""
    negatives = np.sort(np.asarray(negatives, dtype=float))
    positives = np.asarray(positives, dtype=float)
    below = np.searchsorted(negatives, positives, side="left")
    not_above = np.searchsorted(negatives, positives, side="right")
    wins = below + 0.5 * (not_above - below)
    return float(wins.sum() / (negatives.size * positives.size))


def _pair(negatives, positives) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(negatives, dtype=float), np.asarray(positives, dtype=float)


def bootstrap_auroc(
    negatives: Sequence[np.ndarray],
    positives: Sequence[np.ndarray],
    baseline: tuple[Sequence[np.ndarray], Sequence[np.ndarray]] | None = None,
    *,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
) -> dict:
    """Interval of the seed-mean AUROC separating `positives` (e.g. OOD images) from
    `negatives` (the test set), one array per seed; with `baseline` (its negatives and
    positives, the same cases in the same order), of the paired difference in AUROC.

    Each replicate draws seeds, then negatives and positives separately (the same draw for the
    method and the baseline), and averages the AUROC over the drawn seeds.
    """
    seeds = len(negatives)
    if seeds == 0 or len(positives) != seeds:
        raise ValueError("expected one negative and one positive score array per seed")
    arrays = [_pair(n, p) for n, p in zip(negatives, positives, strict=True)]
    base = None
    if baseline is not None:
        base = [_pair(n, p) for n, p in zip(*baseline, strict=True)]
        if len(base) != seeds or any(
            b[0].shape != a[0].shape or b[1].shape != a[1].shape
            for a, b in zip(arrays, base, strict=True)
        ):
            raise ValueError("the baseline's score arrays must pair with the method's")

    def statistic(s: int, neg_draw=None, pos_draw=None) -> float:
        n, p = arrays[s]
        n = n if neg_draw is None else n[neg_draw]
        p = p if pos_draw is None else p[pos_draw]
        value = auroc(n, p)
        if base is not None:
            bn, bp = base[s]
            bn = bn if neg_draw is None else bn[neg_draw]
            bp = bp if pos_draw is None else bp[pos_draw]
            value -= auroc(bn, bp)
        return value

    estimate = float(np.mean([statistic(s) for s in range(seeds)]))
    rng = np.random.default_rng(seed)
    n_neg, n_pos = arrays[0][0].size, arrays[0][1].size
    replicates = np.empty(resamples)
    for r in range(resamples):
        drawn = rng.integers(0, seeds, size=seeds)
        neg_draw = rng.integers(0, n_neg, size=n_neg)
        pos_draw = rng.integers(0, n_pos, size=n_pos)
        replicates[r] = np.mean([statistic(int(s), neg_draw, pos_draw) for s in drawn])
    return _interval(replicates, estimate, level)


def differs(interval: dict) -> bool:
    """Whether a difference's interval excludes 0."""
    return interval["low"] > 0.0 or interval["high"] < 0.0


def ranks(names: Sequence[str], paired: dict[tuple[str, str], dict]) -> dict[str, int]:
    """Rank 1 + the number of methods significantly better: `paired[(a, b)]` is the interval of
    a - b (higher is better); methods whose intervals overlap share a rank."""
    return {
        name: 1 + sum(1 for other in names if other != name and paired[(other, name)]["low"] > 0)
        for name in names
    }


def verdict(interval: dict, *, better_than: float = 0.0, worse_than: float | None = None) -> str:
    """ "holds" when the interval lies above `better_than`; "does not hold" when it lies below
    `worse_than` (default: `better_than`); "inconclusive" otherwise."""
    worse_than = better_than if worse_than is None else worse_than
    if interval["low"] > better_than:
        return "holds"
    if interval["high"] < worse_than:
        return "does not hold"
    return "inconclusive"
