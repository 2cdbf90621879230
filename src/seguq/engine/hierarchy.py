"""How much each level of a hierarchical method (HUE, PHiSeg) contributes to its uncertainty.

Read from a prediction folder made with `--per-level`: for every map m written both for all levels
(`<id>_<m>`) and per level (`<id>_<level>_<m>`, sampling that level only, the others at their
prior mean):
- share: sum over pixels and cases of the level's map / the same sum of the all-level map. For
  `variance` (the variance of the foreground probability over the samples) this is the level's
  share of the total sample variance; shares need not add up to 1 (levels interact);
- correlation: Pearson correlation over all pixels of the cases between two levels' maps; levels
  whose maps correlate >= 0.9 show the same thing.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from seguq.data.maps import MAP_ENDINGS, find_output, read_map

MAPS = ("variance", "epistemic", "total")


def level_diagnostics(pred_dir: Path, info: dict, case_ids: Sequence[str]) -> dict | None:
    """Per-level shares and pairwise correlations of each map, or None without per-level maps.

    Args:
        pred_dir: the prediction folder.
        info: its prediction.json (maps, levels).
        case_ids: the cases to read.
    """
    levels = list(info.get("levels") or [])
    names = [m for m in MAPS if m in (info.get("maps") or [])]
    if len(levels) < 1 or not names or not case_ids:
        return None
    result = {"levels": levels, "cases": len(case_ids), "maps": {}}
    for name in names:
        whole, per_level = _read(pred_dir, case_ids, name, levels)
        if whole is None:
            continue
        total = float(whole.sum())
        shares = {lv: float(v.sum()) / total if total > 0 else None for lv, v in per_level.items()}
        correlation = {
            f"{a}-{b}": pixel_correlation(per_level[a], per_level[b])
            for a, b in itertools.combinations(levels, 2)
        }
        result["maps"][name] = {"share": shares, "correlation": correlation}
    return result if result["maps"] else None


def _read(pred_dir: Path, case_ids: Sequence[str], name: str, levels: list[str]):
    """All cases' pixels of the all-level map and of each level's map, flattened."""
    whole, per_level = [], {lv: [] for lv in levels}
    for case_id in case_ids:
        path = find_output(pred_dir, case_id, name, MAP_ENDINGS)
        found = {lv: find_output(pred_dir, f"{case_id}_{lv}", name, MAP_ENDINGS) for lv in levels}
        if path is None or any(p is None for p in found.values()):
            return None, {}
        ndim = 3 if path.name.endswith((".nii", ".nii.gz")) else 2
        whole.append(read_map(path, ndim).ravel())
        for lv, level_path in found.items():
            per_level[lv].append(read_map(level_path, ndim).ravel())
    return np.concatenate(whole), {lv: np.concatenate(v) for lv, v in per_level.items()}


def pixel_correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson correlation of two maps over their pixels; None when either map is constant."""
    a = np.nan_to_num(np.asarray(a, dtype=np.float64)).ravel()
    b = np.nan_to_num(np.asarray(b, dtype=np.float64)).ravel()
    if a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])
