"""A tiny YAML benchmark end to end: sets, training, prediction, evaluation, tables, resume."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from seguq.benchmark.protocol import load_protocol
from seguq.benchmark.runner import run_benchmark
from seguq.cli import main
from seguq.errors import SeguqError
from seguq.metrics.ood import ood_scores
from seguq.metrics.risk_coverage import aurc

SCRIPTS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_protocol):
    folder = tmp_path_factory.mktemp("bench")
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_protocol()))
    out = folder / "out"
    return path, out, run_benchmark(load_protocol(path), out, progress=False)


def test_score_components_compares_the_combined_score_with_each_component(finished):
    _, out, results = finished
    page = subprocess.run(
        [sys.executable, str(SCRIPTS / "score_components.py"), str(out / "results.json")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    header = next(line for line in page.splitlines() if line.startswith("| method |"))
    assert "| combined | uncertainty | feature_level0 | feature_level1 |" in header
    run = results["runs"][0]
    test, site4 = run["sets"]["test"], run["sets"]["site4"]
    uncertainty = [s["case_scores"]["uncertainty"] for s in (test, site4)]
    expected = [
        ood_scores(test["scores"], site4["scores"])["auroc"],
        ood_scores(*uncertainty)["auroc"],
    ]
    start = f"| {run['method']} | site4 |"
    row = next(line for line in page.splitlines() if line.startswith(start))
    assert row.split(" | ")[2:4] == [f"{v:.3f}" for v in expected]


def test_quality_rules_scores_the_saved_probabilities_of_every_labelled_set(finished, tmp_path):
    _, out, results = finished
    saved = tmp_path / "rules.json"
    subprocess.run(
        [sys.executable, str(SCRIPTS / "quality_rules.py"), str(out), "--json", str(saved)],
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(saved.read_text())
    assert set(found) == {"deterministic", "hue"}
    assert set(found["hue"]) == {"test", "site4"}  # the labelled sets
    one_sample = found["deterministic"]["test"]
    assert one_sample["mean_expected"]["aurc"] == one_sample["shipped"]["aurc"]  # S = 1: one rule
    run = next(r for r in results["runs"] if r["method"] == "hue")
    test = run["sets"]["test"]
    risk = [1.0 - test["case_dice"][i] for i in sorted(test["case_dice"])]
    expected = aurc(np.array(test["case_scores"]["uncertainty"]), np.array(risk))
    assert found["hue"]["test"]["uncertainty"]["aurc"] == pytest.approx([expected])


def test_writes_one_row_per_method_with_every_metric(finished):
    _, out, results = finished
    assert [r["method"] for r in results["rows"]] == ["deterministic", "hue"]
    assert {n: s["role"] for n, s in results["sets"].items()} == {
        "test": "test",
        "site4": "shifted",
        "anatomy": "far_ood",
        "noise": "corrupt",
        "noise-3": "corrupt",
    }
    hue = results["rows"][1]["metrics"]
    for key in ("dice", "hd95", "ece", "nll", "error_auroc", "aurc", "ged", "hm_iou"):
        assert hue[key]["n"] == 1, key
    for name in ("site4", "anatomy", "noise", "noise-3"):
        assert 0 <= hue[f"ood_auroc:{name}"]["mean"] <= 1
    assert hue["samples"]["mean"] == 3 and hue["train_seconds"]["mean"] > 0
    table = results["table"]
    assert table["columns"][:3] == ["method", "Dice", "Dice site4"] and len(table["rows"]) == 2
    assert "GED" in table["columns"]
    md = (out / "results.md").read_text()
    assert "| deterministic |" in md and "| hue |" in md
    csv = (out / "results.csv").read_text().splitlines()
    assert len(csv) == 3 and "dice_mean" in csv[0]
    # The files the report reads are where results.json says.
    run = results["runs"][1]
    assert (out / run["sets"]["test"]["evaluation"]).is_file()
    assert list((out / run["sets"]["test"]["pred_dir"]).glob("*_level*_total.npy"))
    # HUE's per-level diagnostics reach results.json (shares and correlations of the total map)
    hierarchy = run["sets"]["test"]["hierarchy"]
    assert hierarchy["levels"] == ["level0", "level1"]
    assert set(hierarchy["maps"]["total"]["share"]) == {"level0", "level1"}
    assert set(hierarchy["maps"]["total"]["correlation"]) == {"level0-level1"}
    assert results["runs"][0]["sets"]["test"]["hierarchy"] is None
    # the combined score's components, per case, for validating the combination
    components = run["sets"]["site4"]["case_scores"]
    assert {"uncertainty", "feature_level0", "feature_level1"} <= set(components)
    assert len(components["feature_level0"]) == len(run["sets"]["site4"]["scores"])
    saved = json.loads((out / "results.json").read_text())
    assert saved["kind"] == "seguq-benchmark" and saved["sets"]["test"]["csv"] == "sets/test.csv"


def test_rerun_resumes_without_training_and_refuses_another_protocol(
    finished, tmp_path, tiny_protocol
):
    path, out, first = finished
    checkpoint = out / "runs" / "hue" / "seed0" / "checkpoints" / "best.pt"
    stamp = checkpoint.stat().st_mtime_ns
    again = run_benchmark(load_protocol(path), out, progress=False)
    assert checkpoint.stat().st_mtime_ns == stamp
    assert all(run["train_reused"] for run in again["runs"])
    assert again["table"]["rows"] == first["table"]["rows"]
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({**tiny_protocol(), "seeds": 2}))
    with pytest.raises(SeguqError, match="another protocol"):
        run_benchmark(load_protocol(other), out, progress=False)


def test_cli_missing_source_is_one_line_and_exit_2(tmp_path, capsys, tiny_protocol):
    protocol = {**tiny_protocol(), "sources": {"synthetic": {"path": "nowhere/manifest.csv"}}}
    path = tmp_path / "missing.yaml"
    path.write_text(yaml.safe_dump(protocol))
    code = main(["benchmark", str(path), "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "nowhere/manifest.csv does not exist" in err and str(path) in err


def test_lodo_protocol_gives_a_row_per_method(tmp_path, tiny_protocol):
    protocol = {
        "name": "tiny-lodo",
        "protocol": "lodo",
        "sources": {"syn": {"kind": "synthetic", "seed": 0, "n_per_site": 4, "size": 48}},
        "lodo": [{"source": "syn", "domains": ["site1", "site2"]}],
        "methods": ["deterministic"],
        "config": tiny_protocol()["config"],
    }
    path = tmp_path / "lodo.yaml"
    path.write_text(yaml.safe_dump(protocol))
    results = run_benchmark(load_protocol(path), tmp_path / "out", progress=False)
    assert results["table"]["columns"] == ["method", "Dice syn", "HD95 syn", "train s"]
    assert [row[0] for row in results["table"]["rows"]] == ["deterministic"]
    assert results["tables"][0]["columns"] == ["method", "site1", "site2"]
    assert (tmp_path / "out" / "lodo" / "syn" / "results.md").is_file()
    assert "| deterministic |" in (tmp_path / "out" / "results.md").read_text()


def test_jobs_in_parallel_processes_give_the_same_results(finished, tmp_path):
    path, _, first = finished
    protocol = load_protocol(path, overrides={"train": {"threads": 2}})
    parallel = run_benchmark(protocol, tmp_path / "parallel", progress=False, jobs=2)
    assert [r["method"] for r in parallel["rows"]] == ["deterministic", "hue"]
    for one, other in zip(first["runs"], parallel["runs"], strict=True):
        assert one["method"] == other["method"] and one["seed"] == other["seed"]
        # one thread per process (2 threads / 2 jobs), as in the sequential run's tests; float32
        # kernels in another process may differ in the last digits (seen: 1e-5 absolute on an
        # AVX2 CPU), a different seed or method by far more
        assert other["sets"]["test"]["scores"] == pytest.approx(
            one["sets"]["test"]["scores"], rel=1e-3, abs=1e-4
        )
    with pytest.raises(SeguqError, match="--jobs"):
        run_benchmark(protocol, tmp_path / "bad", progress=False, jobs=0)


def test_submitit_jobs_give_the_same_results(finished, tmp_path):
    """submitit's local executor: the code path of --launcher slurm, without a cluster."""
    pytest.importorskip("submitit")
    path, _, first = finished
    protocol = load_protocol(path, overrides={"train": {"threads": 1}})
    out = tmp_path / "submitit"
    jobs = run_benchmark(protocol, out, progress=False, jobs=2, launcher="submitit-local")
    for one, other in zip(first["runs"], jobs["runs"], strict=True):
        assert one["method"] == other["method"]
        assert other["sets"]["test"]["scores"] == pytest.approx(
            one["sets"]["test"]["scores"], rel=1e-3, abs=1e-4
        )
    assert list((out / "slurm").glob("*/*_result.pkl"))  # the jobs' own folders
    with pytest.raises(SeguqError, match="--launcher: expected one of"):
        run_benchmark(protocol, tmp_path / "bad", progress=False, launcher="pbs")
