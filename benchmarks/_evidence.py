"""What the generated results pages share: reading results files, formatting numbers and
intervals, and the header that names the command, machine, date, wall time and commit."""

from __future__ import annotations

import json
from pathlib import Path

from seguq.benchmark.intervals import differs
from seguq.benchmark.tables import fmt, markdown_table, mean_std

REPO = Path(__file__).resolve().parents[1]


def committed(kind: str, pattern: str = "*.json") -> list[str]:
    """The committed results files of one kind (`benchmarks/results/<kind>/<pattern>`); a
    protocol's results are `benchmarks/results/benchmarks/<name>/results.json`."""
    return [str(p) for p in sorted((REPO / "benchmarks" / "results" / kind).glob(pattern))]


PROTOCOL_RESULTS = ("benchmarks", "*/results.json")
LODO_RESULTS = ("lodo", "*/results.json")


def load(paths: list[str]) -> list[dict]:
    """The results files, each with "_file" (its path relative to the repository) and a "name"
    (a leave-one-domain-out result has none: its folder's, `lodo/<name>/results.json`)."""
    out = []
    for path in sorted(paths):
        record = json.loads(Path(path).read_text())
        resolved = Path(path).resolve()
        name = resolved.relative_to(REPO) if resolved.is_relative_to(REPO) else resolved
        folder = resolved.parent.name if resolved.name == "results.json" else resolved.stem
        out.append({"name": folder, **record, "_file": str(name)})
    return out


def is_protocol(record: dict) -> bool:
    """A `seguq benchmark CONFIG` result (runs per method and seed)."""
    return record.get("kind") == "seguq-benchmark" and bool(record.get("runs"))


def is_lodo(record: dict) -> bool:
    """A `seguq benchmark lodo` result."""
    return record.get("protocol") == "leave-one-domain-out" and "methods" in record


def mean_sd(values: list[float], digits: int = 3) -> str:
    """mean ± std over seeds, as the benchmark's own tables write it (`seguq.benchmark.tables`:
    sample std, the std of one value not shown)."""
    return fmt(mean_std(values), digits)


def table(columns: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table as lines."""
    return markdown_table(columns, rows).splitlines()


def ci(interval: dict | None, digits: int = 3, scale: float = 1.0) -> str:
    if interval is None:
        return "n/a"
    return f"[{interval['low'] * scale:.{digits}f}, {interval['high'] * scale:.{digits}f}]"


def signed(interval: dict | None, digits: int = 2, scale: float = 100.0) -> str:
    """A difference with its interval, in points by default, marked when it excludes 0."""
    if interval is None:
        return "n/a"
    mark = " ≠" if differs(interval) else ""
    return f"{interval['estimate'] * scale:+.{digits}f} {ci(interval, digits, scale)}{mark}"


def minutes(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds / 60:.0f} min" if seconds >= 600 else f"{seconds / 60:.1f} min"


def provenance(record: dict) -> list[str]:
    """Command, machine, date, wall time and commit of a results file, as Markdown lines."""
    m = record.get("machine") or {}
    cpu = m.get("cpu", "?")
    if m.get("cpu_capability"):
        cpu += f" ({m['cpu_capability']}{', bf16' if m.get('cpu_bf16') else ''})"
    device = f"GPU {m['gpu']}" if m.get("gpu") else "no GPU"
    invocations = record.get("invocations") or [
        {"date": record.get("date"), "wall_seconds": record.get("wall_seconds")}
    ]
    wall = sum(i.get("wall_seconds") or 0.0 for i in invocations)
    commands = list(dict.fromkeys(i.get("command") for i in invocations if i.get("command")))
    commands = commands or [record.get("command") or "not recorded"]
    lines = [
        *(f"- command: `{c}`" for c in commands),  # each that added to the results, in order
        f"- machine: {cpu}, {m.get('cores', '?')} cores, {device}, torch {m.get('torch', '?')}, "
        f"load average {m.get('load_average_at_start', '?')} at the start",
        f"- date: {invocations[0].get('date') or record.get('date') or 'not recorded'}; wall time "
        f"{minutes(wall)}"
        + (f" over {len(invocations)} invocations" if len(invocations) > 1 else ""),
        f"- commit: {m.get('git_commit', 'not recorded')}; results: `{record['_file']}`",
    ]
    return lines
