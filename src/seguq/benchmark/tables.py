"""Result tables: mean ± std over seeds from evaluation JSONs, written as JSON, CSV and Markdown."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from seguq.data.io import atomic_write

SEGMENTATION_METRICS = ("dice", "hd95", "assd")


def mean_std(values: Iterable[float]) -> dict[str, float]:
    """{"mean", "std", "n"} over the finite values: the sample std (ddof 1; 0 for one value,
    which the tables do not show), NaN when there are none."""
    array = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if array.size == 0:
        return {"mean": math.nan, "std": math.nan, "n": 0}
    std = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return {"mean": float(array.mean()), "std": std, "n": int(array.size)}


def class_means(evaluation: dict, metric: str) -> dict[str, float]:
    """Per-class mean of `metric` from one `seguq evaluate` result."""
    per_class = evaluation["segmentation"]["per_class"]
    return {name: values[metric]["mean"] for name, values in per_class.items()}


def fmt(stat: dict[str, float], digits: int = 3) -> str:
    """ "0.812 ± 0.010" (or "–" when undefined)."""
    if stat["n"] == 0 or not math.isfinite(stat["mean"]):
        return "–"
    if stat["n"] == 1:
        return f"{stat['mean']:.{digits}f}"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path: Path, payload: dict) -> Path:
    """Atomic JSON with NaN written as null."""
    from seguq.engine.evaluate import json_safe

    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(json_safe(payload), indent=2)))


def write_csv(path: Path, rows: list[dict]) -> Path:
    """Atomic CSV with the union of the rows' keys as columns."""
    fields = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write(path, lambda tmp: tmp.write_text(buffer.getvalue()))
