"""docs/TARGETS.md is generated from the committed results.json files: regenerating it gives
the committed page (edit the results or the generator, never the page)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_targets_page_is_generated_from_the_committed_results():
    results = sorted(str(p) for p in (ROOT / "benchmarks" / "results" / "targets").glob("*.json"))
    assert results
    page = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "targets_table.py"), *results],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert page == (ROOT / "docs" / "TARGETS.md").read_text()
