"""Does the combined OOD score beat its components? Per method and OOD set of a benchmark's
results.json, the image AUROC (the set against the test set) of the combined score (`score`: the
largest of the components, each standardised by the reference cases' median and MAD of its
logarithm) and of each component alone: the uncertainty score and the pooled feature distance
at each level. Standardising is monotone, so a component's AUROC is that of its raw value.

    python benchmarks/score_components.py benchmarks/results/benchmarks/NAME/results.json

Needs results written since benchmarks record the components (`case_scores`: uncertainty and
feature_level*); older results are skipped with a note. Mean ± std over seeds; "best single":
the component with the highest mean AUROC on that set, and the combined score's difference to it.
"""

from __future__ import annotations

import sys

import numpy as np
from _evidence import load, mean_sd, table

from seguq.metrics.ood import ood_scores

OOD_ROLES = ("shifted", "far_ood", "corrupt")


def components(entry: dict) -> dict[str, list[float]]:
    """The combined score and its components of one set of one run (case-id order)."""
    cases = entry.get("case_scores") or {}
    names = ["uncertainty", *sorted(c for c in cases if c.startswith("feature_level"))]
    return {"combined": entry["scores"], **{n: cases[n] for n in names if n in cases}}


def aurocs(run: dict, name: str) -> dict[str, float]:
    """AUROC of each score on set `name` against the run's test set."""
    inside, outside = components(run["sets"]["test"]), components(run["sets"][name])
    return {
        key: ood_scores(inside[key], outside[key])["auroc"]
        for key in inside
        if key in outside and None not in inside[key] + outside[key]
    }


def rows_of(record: dict) -> tuple[list[str], list[list[str]]]:
    """Columns and rows: per method and OOD set, each score's AUROC over the seeds."""
    sets = [n for n, s in record["sets"].items() if s["role"] in OOD_ROLES]
    by_method: dict[str, list[dict]] = {}
    for run in record["runs"]:
        by_method.setdefault(run["method"], []).append(run)
    keys: list[str] = []
    rows = []
    for method, runs in by_method.items():
        for name in sets:
            per_seed = [aurocs(run, name) for run in runs if name in run["sets"]]
            found = [k for k in per_seed[0] if all(k in s for s in per_seed)]
            keys += [k for k in found if k not in keys]
            means = {k: float(np.mean([s[k] for s in per_seed])) for k in found}
            singles = {k: v for k, v in means.items() if k != "combined"}
            best = max(singles, key=singles.get)
            cells = {k: mean_sd([s[k] for s in per_seed]) for k in found}
            difference = means["combined"] - singles[best]
            rows.append((method, name, cells, f"{best} ({difference:+.3f})"))
    columns = ["method", "set", *keys, "best single (combined - it)"]
    lines = [[m, n, *(c.get(k, "") for k in keys), b] for m, n, c, b in rows]
    return columns, lines


def main() -> None:
    for record in load(sys.argv[1:]):
        print(f"## {record['name']} ({record['_file']})\n")
        test = record["runs"][0]["sets"]["test"].get("case_scores") or {}
        if not any(c.startswith("feature_level") for c in test):
            print("no per-case components recorded (results written before they were)\n")
            continue
        columns, rows = rows_of(record)
        print("\n".join(table(columns, rows)) + "\n")


if __name__ == "__main__":
    main()
