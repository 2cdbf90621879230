"""The benchmark report rendered by headless Chromium: every image decodes, the main table has one
row per method, and a screenshot can be taken. Skipped where Chromium is not installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (CI installs it in .ci/run)"
)

PROBE = """<script>
window.addEventListener("load", () => {
  const widths = [...document.images].map(i => i.naturalWidth);
  document.body.setAttribute("data-widths", widths.join(","));
  const rows = document.querySelectorAll("#main-table tbody tr").length;
  document.body.setAttribute("data-main-rows", String(rows));
});
</script>
</body>"""


def _chromium(tmp_path, *args: str) -> str:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu"]
    command += [f"--user-data-dir={tmp_path / 'profile'}", *args]
    # Chromium prints harmless warnings on stderr; only its output and exit status matter.
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_report_renders_in_chromium(benchmark_dir, benchmark_report, tmp_path):
    page = tmp_path / "report.html"
    html = benchmark_report.read_text()
    assert html.count("</body>") == 1
    page.write_text(html.replace("</body>", PROBE))
    dom = _chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", page.as_uri())
    widths = re.search(r'data-widths="([^"]*)"', dom)
    rows = re.search(r'data-main-rows="(\d+)"', dom)
    assert widths and rows, dom[:500]
    widths = [int(w) for w in widths.group(1).split(",")]
    assert len(widths) == html.count("<img ") >= 3 and all(w > 0 for w in widths)
    results = json.loads((benchmark_dir / "results.json").read_text())
    assert int(rows.group(1)) == len(results["table"]["rows"])

    shot = tmp_path / "shot.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    assert shot.is_file() and shot.stat().st_size > 0
