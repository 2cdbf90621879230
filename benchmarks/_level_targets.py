"""HUE's (and PHiSeg's) levels on a protocol's converged models, every seed: each level's share
of the sample variance and of the epistemic map on the test set, and the largest pixel
correlation of its epistemic map with another level's (issue 13's hierarchy targets), from the
`hierarchy` that `seguq evaluate` records for predictions made with `--per-level`."""

from __future__ import annotations

import numpy as np
from _evidence import mean_sd, table

from seguq.benchmark.evidence import Study

SHARE_TARGET, CORRELATION_LIMIT = 0.05, 0.9


def max_correlation(maps: dict, name: str, level: str) -> float | None:
    """The largest pixel correlation of `level`'s map `name` with another level's (None: none)."""
    pairs = maps.get(name, {}).get("correlation", {})
    values = [v for k, v in pairs.items() if level in k.split("-") and v is not None]
    return max(values, default=None)


def share(maps: dict, name: str, level: str) -> float | None:
    """`level`'s share of the all-level map `name` (None when that map was not written)."""
    return maps.get(name, {}).get("share", {}).get(level)


def level_target_rows(record: dict, set_name: str = "test") -> list[str]:
    """One row per hierarchical method and level ([] when no run recorded levels)."""
    study = Study.of(record)
    rows = []
    for method in study.methods:
        entries = study.entries(method, set_name)
        found = [e.get("hierarchy") for e in entries]
        if not all(found):
            continue
        dice = mean_sd([e.get("dice_mean") for e in entries])
        for level in found[0]["levels"]:
            variance = [share(h["maps"], "variance", level) for h in found]
            epistemic = [share(h["maps"], "epistemic", level) for h in found]
            correlation = [max_correlation(h["maps"], "epistemic", level) for h in found]
            shares = [v for v in variance if v is not None] or [
                v for v in epistemic if v is not None
            ]
            corr = [v for v in correlation if v is not None]
            met = bool(shares) and np.mean(shares) >= SHARE_TARGET
            met = met and (not corr or np.mean(corr) < CORRELATION_LIMIT)
            # mean_sd writes "–" where no seed has the value
            cells = [mean_sd(variance), mean_sd(epistemic), mean_sd(correlation)]
            rows.append([method, dice, level, *cells, "met" if met else "**not met**"])
    if not rows:
        return []
    columns = [
        "method",
        f"Dice ({set_name})",
        "level",
        "share of the sample variance",
        "share of the epistemic map",
        "epistemic-map correlation with the other levels (max)",
        f"share ≥ {SHARE_TARGET:.0%} and correlation < {CORRELATION_LIMIT}",
    ]
    return table(columns, rows)
