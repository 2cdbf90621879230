"""Which per-case quality score detects failed segmentations best? On a finished benchmark's
labelled sets (each run's saved mean probabilities beside its scores.csv and evaluation), the
case AURC (risk 1 - Dice; lower is better) and Spearman correlation with the Dice of:

- `shipped`: scores.csv's `predicted_dice` (`seguq.quality`: the mean pairwise Dice between the
  samples, or the expected Dice of the probabilities against their own mask with one sample);
- `mean_expected`: the expected Dice of the *mean* probabilities against their own mask, the
  one-sample rule applied to the mean of the samples (identical to `shipped` with one sample);
- `product`: `shipped` x `mean_expected` (sample disagreement and soft boundaries together);
- `uncertainty`: scores.csv's uncertainty score, the reference the issue-13 target compares with.

    python benchmarks/quality_rules.py BENCH_OUT [--json FILE]

BENCH_OUT is the `--out` folder of `seguq benchmark` (it reads OUT/results.json and the prediction
folders it names). Mean ± std over seeds, and the paired difference to `shipped` per seed.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch
from _evidence import mean_sd, table
from scipy.stats import spearmanr

from seguq.data.maps import MAP_ENDINGS, find_output, read_map
from seguq.metrics.risk_coverage import aurc
from seguq.quality import predicted_dice

RULES = ("shipped", "mean_expected", "product", "uncertainty")


def _scores(pred_dir: Path) -> dict[str, dict[str, str]]:
    with (pred_dir / "scores.csv").open() as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


def _case_dice(evaluation: Path) -> dict[str, float]:
    by_case: dict[str, list[float]] = {}
    for row in json.loads(evaluation.read_text()).get("per_case", []):
        by_case.setdefault(row["id"], []).append(float(row["dice"]))
    return {case: float(np.mean(v)) for case, v in by_case.items()}


def case_quality(pred_dir: Path, case_id: str, dims: int) -> float | None:
    """The expected Dice of a case's saved mean probabilities (None where none were saved)."""
    path = find_output(pred_dir, case_id, "probs", MAP_ENDINGS)
    if path is None:
        return None
    mean = torch.from_numpy(read_map(path, dims).astype(np.float64))
    return predicted_dice(mean[None])


def set_rules(out: Path, entry: dict, dims: int) -> dict[str, np.ndarray] | None:
    """Per rule, the failure score of each case (higher = more likely to fail), and "risk"."""
    if not entry.get("evaluation"):
        return None
    pred_dir, dice = out / entry["pred_dir"], _case_dice(out / entry["evaluation"])
    rows, ids = _scores(pred_dir), sorted(dice)
    mean = [case_quality(pred_dir, i, dims) for i in ids]
    if None in mean:
        return None
    shipped = np.array([float(rows[i]["predicted_dice"]) for i in ids])
    mean = np.array(mean)
    return {
        "risk": 1.0 - np.array([dice[i] for i in ids]),
        "shipped": 1.0 - shipped,
        "mean_expected": 1.0 - mean,
        "product": 1.0 - shipped * mean,
        "uncertainty": np.array([float(rows[i]["uncertainty"]) for i in ids]),
    }


def measure(out: Path) -> dict:
    """{method: {set: {rule: {"aurc": [per seed], "spearman": [per seed]}}}}."""
    record = json.loads((out / "results.json").read_text())
    dims = int(record.get("budget", {}).get("data", {}).get("dims", 2))
    found: dict = {}
    for run in record["runs"]:
        for name, entry in run["sets"].items():
            values = set_rules(out, entry, dims)
            if values is None:
                continue
            risk = values.pop("risk")
            cell = found.setdefault(run["method"], {}).setdefault(name, {})
            for rule, score in values.items():
                seeds = cell.setdefault(rule, {"aurc": [], "spearman": []})
                seeds["aurc"].append(aurc(score, risk))
                seeds["spearman"].append(float(spearmanr(-score, 1.0 - risk)[0]))
    return found


def rows_of(found: dict) -> list[list[str]]:
    rows = []
    for method, sets in found.items():
        for name, cell in sets.items():
            base = np.array(cell["shipped"]["aurc"])
            row = [method, name]
            for rule in RULES:
                values = np.array(cell[rule]["aurc"])
                delta = "" if rule == "shipped" else f" (Δ {np.mean(values - base):+.4f})"
                row.append(f"{mean_sd(values, 4)}{delta}")
            row.append(" / ".join(f"{np.mean(cell[r]['spearman']):.2f}" for r in RULES))
            rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a `seguq benchmark --out` folder")
    parser.add_argument("--json", type=Path, help="also write the per-seed numbers here")
    args = parser.parse_args(argv)
    if not (args.out / "results.json").is_file():
        print(f"error: {args.out}: no results.json (not a finished benchmark)", file=sys.stderr)
        return 2
    found = measure(args.out)
    if not found:
        print(f"error: {args.out}: no labelled set with saved probabilities", file=sys.stderr)
        return 2
    columns = ["method", "set", *(f"AURC {r}" for r in RULES), "Spearman " + " / ".join(RULES)]
    print("\n".join(table(columns, rows_of(found))))
    if args.json:
        args.json.write_text(json.dumps(found, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
