"""A small benchmark folder, laid out as `seguq benchmark` writes it, from the tiny trained run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

# (set name, role, manifest rows kept: domain and split (None = any), evaluated)
SETS = [
    ("test", "test", ("site1", "site2", "site3"), "test", True),
    ("site4", "shifted", ("site4",), None, True),
    ("ood_anatomy", "far_ood", ("ood_anatomy",), None, False),
    ("ood_corrupt", "corrupt", ("ood_corrupt",), None, False),
]
METHODS = ("deterministic", "copycat")


def write_set_manifest(manifest: Path, out: Path, domains: tuple, split: str | None) -> Path:
    """The rows of `manifest` in these domains (and split), with absolute paths."""
    with manifest.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = [r for r in reader if r["domain"] in domains and split in (None, r["split"])]
    for row in rows:
        for key in fields:
            if (key in ("image", "mask") or key.startswith("mask_")) and row[key]:
                row[key] = str((manifest.parent / row[key]).resolve())
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return out


@pytest.fixture(scope="session")
def benchmark_dir(tmp_path_factory, tiny_manifest, trained_run) -> Path:
    """results.json of kind "seguq-benchmark" with two methods sharing one run's outputs, and a
    later seed of the first method pointing nowhere (reports use each method's first seed)."""
    from seguq.engine.evaluate import evaluate
    from seguq.engine.predict import predict

    root = tmp_path_factory.mktemp("bench") / "synthetic-quick"
    sets, run_sets = {}, {}
    for name, role, domains, split, evaluated in SETS:
        csv_path = write_set_manifest(tiny_manifest, root / "sets" / f"{name}.csv", domains, split)
        pred = root / "predictions" / "deterministic" / "seed0" / name
        maps = ["total", "aleatoric", "epistemic"] if evaluated else ["total"]
        predict(trained_run, csv_path, pred, maps=maps, save_probs=evaluated, progress=False)
        evaluation = None
        if evaluated:
            evaluation = root / "evaluations" / "deterministic" / "seed0" / f"{name}.json"
            evaluate(pred, csv_path, evaluation, progress=False)
        n_cases = sum(1 for _ in csv_path.open()) - 1
        sets[name] = {"role": role, "csv": f"sets/{name}.csv", "cases": n_cases}
        run_sets[name] = {
            "pred_dir": str(pred.relative_to(root)),
            "evaluation": str(evaluation.relative_to(root)) if evaluation else None,
        }
    nowhere = {n: {"pred_dir": f"missing/{n}", "evaluation": None} for n in sets}
    runs = [{"method": "deterministic", "seed": 1, "sets": nowhere}]
    runs += [{"method": m, "seed": 0, "sets": run_sets} for m in METHODS]
    results = {
        "kind": "seguq-benchmark",
        "name": "synthetic-quick",
        "class_names": ["background", "disc_rim", "cup"],
        "sets": sets,
        "table": {
            "columns": ["method", "Dice", "HD95"],
            "rows": [[m, "0.912 ± 0.004", "3.1 ± 0.2"] for m in METHODS],
        },
        "tables": [{"title": "OOD", "columns": ["method", "AUROC"], "rows": [["a", "0.9"]]}],
        "runs": runs,
    }
    (root / "results.json").write_text(json.dumps(results, indent=2))
    return root


@pytest.fixture(scope="session")
def benchmark_report(benchmark_dir) -> Path:
    """The benchmark folder's report.html."""
    from seguq.report import write_report

    return write_report(benchmark_dir)
