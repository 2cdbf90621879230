"""docs/FLAGS.md is generated from the committed calibration and OOD-regions results:
regenerating it gives the committed page (edit the results or the generator, never the page)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_flags_page_is_generated_from_the_committed_results():
    page = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "flags_table.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert "| cxr | fold2 |" in page  # the committed calibration results were read
    assert page == (ROOT / "docs" / "FLAGS.md").read_text()
