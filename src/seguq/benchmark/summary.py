"""Benchmark results: one row per method (mean ± std over seeds), written as JSON, CSV, Markdown."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from seguq.benchmark.protocol import Protocol
from seguq.benchmark.tables import fmt, markdown_table, mean_std, write_csv, write_json
from seguq.data.writers import atomic_write
from seguq.machine_info import describe_machine

# (key in a row, column title, digits); the main table, then the OOD table per set.
MAIN_COLUMNS = [
    ("dice", "Dice", 3),
    ("hd95", "HD95 px", 1),
    ("ece", "ECE", 3),
    ("nll", "NLL", 3),
    ("error_auroc", "error AUROC", 3),
    ("aurc", "AURC", 3),
    ("ged", "GED", 3),
    ("hm_iou", "HM-IoU", 3),
    ("ncc", "NCC", 3),
    ("samples", "S", 0),
    ("train_seconds", "train s", 0),
    ("ms_per_image", "predict ms/image", 0),
]


def _mean(values) -> float | None:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else None


def _run_metrics(run: dict, sets: dict[str, dict]) -> dict[str, float | None]:
    """The numbers of one (method, seed) run, flat."""
    test = run["sets"]["test"]
    ambiguity = test.get("ambiguity") or {}
    values: dict[str, float | None] = {
        "dice": test.get("dice_mean"),
        "hd95": _mean((test.get("hd95") or {}).values()),
        "ece": test.get("ece"),
        "nll": test.get("nll"),
        "error_auroc": (test.get("error_auroc") or {}).get("total"),
        "aurc": test.get("aurc"),
        "ged": (ambiguity.get("ged") or {}).get("mean"),
        "hm_iou": (ambiguity.get("hm_iou") or {}).get("mean"),
        "ncc": (ambiguity.get("ncc") or {}).get("mean"),
        "samples": test.get("samples"),
        "train_seconds": run.get("train_seconds"),
        "ms_per_image": test["prediction"].get("ms_per_image"),
    }
    for name, entry in run["sets"].items():
        if name == "test":
            continue
        if sets[name]["role"] == "shifted":
            values[f"dice:{name}"] = entry.get("dice_mean")
        values[f"ood_auroc:{name}"] = entry["ood"]["auroc"]
        values[f"fpr95:{name}"] = entry["ood"]["fpr95"]
    return values


def summarise(protocol: Protocol, sets: dict[str, dict], runs: list[dict]) -> dict:
    """results.json's content: rows (statistics over seeds), formatted tables, runs, sets."""
    rows = []
    for variant in protocol.variants:
        per_seed = [_run_metrics(r, sets) for r in runs if r["method"] == variant.label]
        keys = list(dict.fromkeys(k for m in per_seed for k in m))
        stats = {k: mean_std(m.get(k) for m in per_seed) for k in keys}
        rows.append({"method": variant.label, "seeds": len(per_seed), "metrics": stats})
    other = [n for n in sets if n != "test"]
    main = _table(rows, MAIN_COLUMNS, other, sets)
    tables = []
    if other:
        auroc = [(f"ood_auroc:{n}", n, 3) for n in other]
        fpr95 = [(f"fpr95:{n}", n, 3) for n in other]
        title = "{} of the image score, each set against the test set (positive: the set)"
        tables.append({"title": title.format("AUROC"), **_table(rows, auroc, [], sets)})
        tables.append({"title": title.format("FPR at 95% TPR"), **_table(rows, fpr95, [], sets)})
    budget = dataclasses.asdict(protocol.base)
    return {
        "kind": "seguq-benchmark",
        "name": protocol.name,
        "protocol_file": str(protocol.path),
        "data_root": str(protocol.data_root),
        "class_names": protocol.class_names or _class_names(runs),
        "seeds": protocol.seeds,
        "budget": {"data": budget["data"], "train": budget["train"], "net": budget["net"]},
        "machine": describe_machine(),
        "sets": {
            name: {
                "role": info["role"],
                "csv": f"sets/{Path(info['csv']).name}",
                "cases": len(info["ids"]),
                **({"annotators": info["annotators"]} if "annotators" in info else {}),
            }
            for name, info in sets.items()
        },
        "stage_seconds": sum(
            (run.get("train_seconds") or 0.0)
            + sum(e["prediction"].get("seconds", 0.0) for e in run["sets"].values())
            for run in runs
        ),
        "rows": rows,
        "table": main,
        "tables": tables,
        "runs": runs,
    }


def _class_names(runs: list[dict]) -> list[str]:
    dice = runs[0]["sets"]["test"].get("dice") or {}
    return ["background", *dice]


def _table(rows: list[dict], columns, shifted_sets: list[str], sets: dict) -> dict:
    """{"columns", "rows"} of formatted cells; columns without any value are left out."""
    columns = list(columns)
    for name in shifted_sets:
        if sets[name]["role"] == "shifted":
            columns.insert(1, (f"dice:{name}", f"Dice {name}", 3))
    present = [c for c in columns if any(r["metrics"].get(c[0], {"n": 0})["n"] > 0 for r in rows)]
    body = []
    for row in rows:
        cells = [row["method"]]
        for key, _, digits in present:
            stat = row["metrics"].get(key, {"n": 0, "mean": float("nan"), "std": 0.0})
            cells.append(fmt(stat, digits))
        body.append(cells)
    return {"columns": ["method", *[title for _, title, _ in present]], "rows": body}


def write_results(out: Path, results: dict) -> None:
    """results.json, results.csv (one row per method: <metric>_mean, <metric>_std) and .md."""
    write_json(out / "results.json", results)
    flat = []
    for row in results["rows"]:
        line: dict = {"method": row["method"], "seeds": row["seeds"]}
        for key, stat in row["metrics"].items():
            line[f"{key}_mean"], line[f"{key}_std"] = stat["mean"], stat["std"]
        flat.append(line)
    write_csv(out / "results.csv", flat)
    parts = [f"# Benchmark `{results['name']}`", "", _header(results), ""]
    parts += [markdown_table(results["table"]["columns"], results["table"]["rows"]), ""]
    for table in results["tables"]:
        parts += [f"## {table['title']}", "", markdown_table(table["columns"], table["rows"]), ""]
    text = "\n".join(parts)
    atomic_write(out / "results.md", lambda tmp: tmp.write_text(text))


def _header(results: dict) -> str:
    sets = ", ".join(f"{n} ({s['role']}, {s['cases']})" for n, s in results["sets"].items())
    train = results["budget"]["train"]
    data = results["budget"]["data"]
    seeds = results["seeds"]
    return (
        f"Seeds {seeds} (mean ± std over seeds where more than one); "
        f"{train['epochs']} epochs × {train['steps_per_epoch']} steps, batch {data['batch_size']}, "
        f"patch {data['patch_size']}. Sets (role, cases): {sets}. "
        f"Training and prediction took {results['stage_seconds']:.0f} s in all (summed over "
        f"methods, whichever invocation ran them); this invocation's wall time "
        f"{results.get('wall_seconds', 0):.0f} s on {results['machine']['cores']} cores "
        f"(torch {results['machine']['torch']}). Test-set metrics: Dice and HD95 averaged over "
        "the foreground classes; ECE, NLL over all pixels; error AUROC of the total map; AURC of "
        "the image score; GED, HM-IoU, NCC against the annotators when there are several."
    )
