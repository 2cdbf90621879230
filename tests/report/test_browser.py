"""The benchmark report rendered by headless Chromium: every image decodes, the main table has one
row per method, a click enlarges a case figure to its full size, the foreground reliability
diagram is there, the class names appear, and a screenshot can be taken. Skipped where Chromium is
not installed."""

from __future__ import annotations

import json


def test_report_renders_in_chromium(benchmark_dir, benchmark_report, render_in_chromium):
    shown = render_in_chromium(benchmark_report)
    widths = shown["widths"]
    assert len(widths) == benchmark_report.read_text().count("<img ") >= 3
    assert all(w > 0 for w in widths)
    results = json.loads((benchmark_dir / "results.json").read_text())
    assert shown["rows"] == len(results["table"]["rows"])
    fitted, clicked, natural = shown["zoom"]
    assert fitted < natural <= clicked <= natural + 2  # full resolution (+ its 1 px border)
    assert any("foreground pixels" in alt for alt in shown["alts"])
    info = json.loads(next((benchmark_dir / "predictions").rglob("prediction.json")).read_text())
    names = [n for n in info["class_names"] if n != "background"]
    assert names and all(name in shown["text"] for name in names)
