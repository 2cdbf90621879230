"""Per-level diagnostics of hierarchical methods, read from a --per-level prediction folder."""

from __future__ import annotations

import numpy as np
import pytest

from seguq.engine.hierarchy import level_diagnostics


def test_shares_and_correlations_of_the_level_maps(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.random((2, 8, 8)), rng.random((2, 8, 8))
    for i, case in enumerate(("c1", "c2")):
        np.save(tmp_path / f"{case}_variance.npy", (a[i] + b[i]).astype(np.float32))
        np.save(tmp_path / f"{case}_level0_variance.npy", a[i].astype(np.float32))
        np.save(tmp_path / f"{case}_level1_variance.npy", (0.1 * b[i]).astype(np.float32))
        np.save(tmp_path / f"{case}_level2_variance.npy", (2 * a[i]).astype(np.float32))
    info = {"maps": ["variance"], "levels": ["level0", "level1", "level2"]}
    result = level_diagnostics(tmp_path, info, ["c1", "c2"])
    shares = result["maps"]["variance"]["share"]
    total = (a + b).sum()
    assert shares["level0"] == pytest.approx(a.sum() / total, rel=1e-5)
    assert shares["level1"] == pytest.approx(0.1 * b.sum() / total, rel=1e-5)
    correlation = result["maps"]["variance"]["correlation"]
    assert correlation["level0-level2"] == pytest.approx(1.0)
    assert abs(correlation["level0-level1"]) < 0.5
    assert level_diagnostics(tmp_path, {"maps": ["variance"], "levels": []}, ["c1"]) is None
    missing = {"maps": ["variance"], "levels": ["level0", "level9"]}
    assert level_diagnostics(tmp_path, missing, ["c1"]) is None  # no level9 maps


def test_the_report_says_what_each_level_carries():
    from seguq.report.cases import hierarchy_lines
    from seguq.report.inputs import MethodRuns, ReportInput, SetRun

    hierarchy = {
        "maps": {
            "variance": {
                "share": {"level0": 0.7, "level1": 0.31, "level2": 0.01},
                "correlation": {"level0-level1": 0.97, "level0-level2": 0.5, "level1-level2": 0.4},
            }
        }
    }
    runs = {"test": SetRun(None, {"hierarchy": hierarchy}), "other": SetRun(None, {})}
    inp = ReportInput("prediction", None, "t", [], {}, [MethodRuns("hue", runs)], [], [])
    assert hierarchy_lines(inp) == [
        "hue on test: share of the sample variance by level: level0 0.70, level1 0.31, "
        "level2 0.01; levels whose maps agree (r >= 0.9): level0-level1."
    ]
