"""HUE's per-level table from a protocol's results (benchmarks/_level_targets.py): shares and
correlations as mean ± std over seeds, and the targets (share >= 5%, correlation < 0.9)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def level_target_rows():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from _level_targets import level_target_rows
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return level_target_rows


def _hierarchy(shares, correlation):
    levels = list(shares)
    return {
        "levels": levels,
        "cases": 2,
        "maps": {
            name: {"share": dict(shares), "correlation": {"level0-level1": correlation}}
            for name in ("variance", "epistemic")
        },
    }


def _record(per_seed):
    runs = []
    for seed, (shares, correlation) in enumerate(per_seed):
        for method, hierarchy in (
            ("deterministic", None),
            ("hue", _hierarchy(shares, correlation)),
        ):
            test = {"dice_mean": 0.8, "hierarchy": hierarchy}
            runs.append({"method": method, "seed": seed, "sets": {"test": test}})
    return {"runs": runs}


def test_rows_per_level_with_seed_spread_and_targets(level_target_rows):
    record = _record(
        [({"level0": 0.9, "level1": 0.04}, 0.5), ({"level0": 0.8, "level1": 0.08}, 0.7)]
    )
    rows = level_target_rows(record)
    assert len(rows) == 2 + 2  # header, rule, one row per level; the U-Net has no levels
    level0, level1 = (row.split(" | ") for row in rows[2:])
    assert level0[2] == "level0" and level0[3] == "0.850 ± 0.071" and level0[-1] == "met |"
    assert level1[3] == "0.060 ± 0.028" and level1[5] == "0.600 ± 0.141"
    assert level1[-1] == "met |"  # the seed mean 0.06 >= 0.05, correlation 0.6 < 0.9


def test_a_collapsed_or_redundant_level_misses_the_target(level_target_rows):
    collapsed = level_target_rows(_record([({"level0": 1.0, "level1": 0.0}, 0.5)] * 2))
    assert collapsed[-1].endswith("**not met** |") and collapsed[-2].endswith("| met |")
    redundant = level_target_rows(_record([({"level0": 0.5, "level1": 0.5}, 0.95)] * 2))
    assert all(row.endswith("**not met** |") for row in redundant[2:])


def test_no_levels_no_table(level_target_rows):
    record = {"runs": [{"method": "deterministic", "seed": 0, "sets": {"test": {"dice_mean": 1}}}]}
    assert level_target_rows(record) == []
