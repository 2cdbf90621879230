"""The benchmark report rendered by headless Chromium: every image decodes, the main table has one
row per method, and a screenshot can be taken. Skipped where Chromium is not installed."""

from __future__ import annotations

import json


def test_report_renders_in_chromium(benchmark_dir, benchmark_report, render_in_chromium):
    widths, rows = render_in_chromium(benchmark_report)
    assert len(widths) == benchmark_report.read_text().count("<img ") >= 3
    assert all(w > 0 for w in widths)
    results = json.loads((benchmark_dir / "results.json").read_text())
    assert rows == len(results["table"]["rows"])
