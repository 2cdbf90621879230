"""`protocol: lodo` in a benchmark YAML: leave-one-domain-out (`seguq.benchmark.lodo`) on one or
more sources, and its results in the common benchmark form (one row per method)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from seguq.benchmark.lodo import run_lodo
from seguq.benchmark.protocol import Protocol, claim_output
from seguq.benchmark.tables import fmt, markdown_table, write_csv, write_json
from seguq.data.writers import atomic_write
from seguq.errors import SeguqError


def lodo_data(protocol: Protocol, name: str) -> str:
    """The data argument of `run_lodo` for source `name`: a path or a synthetic spec."""
    spec = protocol.sources[name]
    if spec["kind"] == "synthetic":
        options = {k: v for k, v in spec.items() if k not in ("kind", "resize")}
        return "synthetic:" + ",".join(f"{k}={v}" for k, v in options.items())
    if spec["kind"] != "manifest" or spec.get("resize"):
        raise SeguqError(
            f"{protocol.path}: lodo reads source '{name}' in place (a path, no resize or slicing)"
        )
    path = protocol.data_root / spec["path"]
    if not path.exists():
        raise SeguqError(f"{protocol.path}: source '{name}': {path} does not exist")
    return str(path)


def run_lodo_protocol(
    protocol: Protocol,
    out: Path,
    *,
    overwrite: bool = False,
    progress: bool = True,
    command: str | None = None,
) -> dict:
    """Run (or resume) every study under OUT/lodo/<source> and write OUT/results.*."""
    start = time.perf_counter()
    if protocol.seeds != list(range(len(protocol.seeds))):
        raise SeguqError(f"{protocol.path}: lodo takes a seed count (seeds: N)")
    data = {spec["source"]: lodo_data(protocol, spec["source"]) for spec in protocol.lodo}
    with claim_output(out, protocol, overwrite) as folder:
        return _run_studies(protocol, data, folder, start, progress, command)


def _run_studies(
    protocol: Protocol,
    data: dict[str, str],
    out: Path,
    start: float,
    progress: bool,
    command: str | None,
) -> dict:
    studies = {}
    for spec in protocol.lodo:
        name = spec["source"]
        studies[name] = run_lodo(
            data[name],
            protocol.variants,
            out / "lodo" / name,
            base=protocol.base,
            seeds=len(protocol.seeds),
            domains=spec.get("domains"),
            test_split=spec.get("test_split", "test"),
            overwrite=False,
            progress=progress,
        )
    labels = [v.label for v in protocol.variants]
    columns = ["method"]
    for name in studies:
        columns += [f"Dice {name}", f"HD95 {name}"]
    columns.append("train s")
    rows = []
    for label in labels:
        cells = [label]
        for study in studies.values():
            average = study["methods"][label]["average"]
            cells += [fmt(average["dice"]["mean"]), fmt(average["hd95"]["mean"], 1)]
        train = [s["methods"][label]["train_seconds"]["mean"] for s in studies.values()]
        cells.append(f"{sum(train) / len(train):.0f}")
        rows.append(cells)
    tables = [_domain_table(name, study, labels) for name, study in studies.items()]
    results = {
        "kind": "seguq-benchmark",
        "name": protocol.name,
        "protocol": "leave-one-domain-out",
        "data": data,
        "seeds": protocol.seeds,
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "wall_seconds": time.perf_counter() - start,
        "command": command,
        "sets": {},
        "runs": [],
        "table": {"columns": columns, "rows": rows},
        "tables": tables,
        "lodo": studies,
    }
    write_json(out / "results.json", results)
    write_csv(out / "results.csv", _flat_rows(studies, labels))
    parts = [
        f"# Benchmark `{protocol.name}` (leave-one-domain-out)",
        "",
        f"{len(protocol.seeds)} seed(s), mean ± std over seeds; Dice and HD95 averaged over the "
        "foreground classes and over the unseen domains (each domain tested by a model trained "
        "on the others); per-class tables in lodo/<source>/results.md.",
        "",
        markdown_table(columns, rows),
        "",
    ]
    for table in tables:
        parts += [f"## {table['title']}", "", markdown_table(table["columns"], table["rows"]), ""]
    text = "\n".join(parts)
    atomic_write(out / "results.md", lambda tmp: tmp.write_text(text))
    return results


def _domain_table(name: str, study: dict, labels: list[str]) -> dict:
    domains = study["domains"]
    rows = [
        [label] + [fmt(study["methods"][label]["domains"][d]["dice"]["mean"]) for d in domains]
        for label in labels
    ]
    return {
        "title": f"{name}: Dice on each unseen domain",
        "columns": ["method", *domains],
        "rows": rows,
    }


def _flat_rows(studies: dict[str, dict], labels: list[str]) -> list[dict]:
    """One CSV row per method: per source, Dice per unseen domain and the averages."""
    rows = []
    for label in labels:
        row: dict = {"method": label}
        for name, study in studies.items():
            entry = study["methods"][label]
            named = [
                (f"{name}_dice_{d}", entry["domains"][d]["dice"]["mean"]) for d in study["domains"]
            ]
            named += [(f"{name}_dice_average", entry["average"]["dice"]["mean"])]
            named += [(f"{name}_hd95_average", entry["average"]["hd95"]["mean"])]
            named += [(f"{name}_train_seconds", entry["train_seconds"])]
            for key, stat in named:
                row[f"{key}_mean"], row[f"{key}_std"] = stat["mean"], stat["std"]
        rows.append(row)
    return rows
