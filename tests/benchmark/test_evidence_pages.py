"""The generated results pages: a tiny two-seed benchmark rendered by benchmarks_page.py and
claims_page.py, and the committed pages equal to what the committed results regenerate."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from seguq.benchmark.evidence import Study
from seguq.benchmark.protocol import load_protocol
from seguq.benchmark.runner import run_benchmark

ROOT = Path(__file__).resolve().parents[2]


def _page(script: str, *files) -> str:
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *map(str, files)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory, tiny_protocol):
    folder = tmp_path_factory.mktemp("evidence")
    tiny = tiny_protocol()
    protocol = {
        **tiny,
        "shifted": {},
        "corruptions": {"kinds": ["noise"], "strengths": [3], "max_cases": 2},
        "seeds": 2,
        "config": {**tiny["config"], "train": {"epochs": 3, "steps_per_epoch": 1, "patience": 1}},
    }
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(protocol))
    out = folder / "out"
    run_benchmark(load_protocol(path), out, progress=False, command="seguq benchmark tiny.yaml")
    return out / "results.json"


def test_results_hold_what_the_pages_need(two_seeds):
    results = json.loads(two_seeds.read_text())
    study = Study.of(results)
    assert study.methods == ["deterministic", "hue"] and study.seeds == [0, 1]
    run = study.runs[("hue", 1)]
    assert 1 <= run["convergence"]["epochs"] <= 3
    assert run["convergence"]["steps"] == run["convergence"]["epochs"]  # one step an epoch
    test = run["sets"]["test"]
    assert len(test["case_dice"]) == len(test["scores"]) == results["sets"]["test"]["cases"]
    assert {"uncertainty", "predicted_dice"} <= set(test["case_scores"])
    assert study.case_dice("hue", "test").shape == (2, results["sets"]["test"]["cases"])
    assert [i["command"] for i in results["invocations"]] == ["seguq benchmark tiny.yaml"]


def test_a_rerun_adds_an_invocation(two_seeds):
    out = two_seeds.parent
    protocol = load_protocol(out.parent / "tiny.yaml")
    results = run_benchmark(protocol, out, progress=False, command="again")
    assert [i["command"] for i in results["invocations"]] == ["seguq benchmark tiny.yaml", "again"]


def test_benchmarks_page_names_its_provenance_and_compares_with_intervals(two_seeds):
    page = _page("benchmarks_page.py", two_seeds)
    assert "- command: `seguq benchmark tiny.yaml`" in page
    assert "- commit: " in page and "cores" in page and "wall time" in page
    rows = [line for line in page.splitlines() if line.startswith("| hue |")]
    assert len(rows) >= 3  # segmentation, OOD (combined score), failure detection
    segmentation = rows[0].split(" | ")
    assert segmentation[1] in {"0/2", "1/2", "2/2"}  # converged runs of 2 seeds
    assert segmentation[5].startswith(("+", "-")) and "[" in segmentation[5]  # Δ with interval
    assert "| deterministic |" in page and "noise-3" in page


def test_claims_page_decides_by_the_intervals(two_seeds):
    page = _page("claims_page.py", two_seeds)
    parity = [line for line in page.splitlines() if "HUE segments as well" in line]
    assert len(parity) == 1
    assert any(f"**{v}**" in parity[0] for v in ("holds", "does not hold", "inconclusive"))
    assert "HUE's uncertainty flags OOD images (anatomy)" in page


@pytest.mark.parametrize("script, doc", [("benchmarks_page.py", "BENCHMARKS.md"),
                                         ("claims_page.py", "CLAIMS.md")])  # fmt: skip
def test_committed_pages_are_generated_from_the_committed_results(script, doc):
    assert _page(script) == (ROOT / "docs" / doc).read_text()
