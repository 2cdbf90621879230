"""A prediction folder's progress: which cases are finished, so that an interrupted prediction
resumes where it stopped, and the settings that must match for it to resume.

Each finished case appends one JSON line (its scores.csv row) to `.seguq-cases.jsonl` after all
its files are written (each atomically); a case killed half-way is simply predicted again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import zlib
from pathlib import Path
from typing import Any

from seguq.data.io import atomic_write
from seguq.engine.output_folder import OutputFolder
from seguq.errors import SeguqError

DONE_LOG = ".seguq-cases.jsonl"


def file_digest(path: Path) -> str:
    """SHA-256 of a file (identifies the model a folder was predicted with)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def case_seed(seed: int, case_id: str) -> int:
    """The random seed of one case: a prediction's samples depend only on (seed, case id), so
    that a resumed or partial prediction gives the same outputs as a whole one."""
    return (int(seed) * 1_000_003 + zlib.crc32(case_id.encode("utf-8"))) % (2**63 - 1)


def finished_rows(out: Path) -> dict[str, dict[str, Any]]:
    """The scores.csv rows of the cases finished so far, by id (a torn last line is ignored)."""
    path = Path(out) / DONE_LOG
    rows: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and "id" in row:
            rows[str(row["id"])] = row
    return rows


def record_finished(out: Path, row: dict[str, Any]) -> None:
    """Append a finished case's row to the progress log (flushed to disk)."""
    with (Path(out) / DONE_LOG).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def forget_progress(out: Path) -> None:
    """Remove the progress log once scores.csv holds every row."""
    (Path(out) / DONE_LOG).unlink(missing_ok=True)


def describe_difference(saved: dict[str, Any], wanted: dict[str, Any]) -> str:
    """'samples 4, not 8; seed 0, not 1' for the settings that differ (first three)."""
    keys = sorted(set(saved) | set(wanted))
    parts = [
        f"{k} {saved.get(k)!r}, not {wanted.get(k)!r}"
        for k in keys
        if saved.get(k) != wanted.get(k)
    ]
    return "; ".join(parts[:3])


def claim_prediction_folder(
    folder: OutputFolder, settings: dict, *, overwrite: bool, resume: bool
) -> dict[str, dict]:
    """Claim a prediction output folder; returns the rows of the cases that an interrupted
    prediction with the same settings finished (resumed), or {} (a new prediction)."""
    marker = folder.marker
    same = marker is not None and marker.get("kind") == "prediction"
    same = same and marker.get("settings") == settings
    if same and resume and not marker.get("complete"):
        folder.reuse(settings)
        return finished_rows(folder.path)
    if overwrite:
        folder.claim(overwrite=True, settings=settings)
        return {}
    if same and not marker.get("complete"):
        folder.reuse(settings)
        return finished_rows(folder.path)
    where = f"--out {folder.path}"
    if same:
        raise SeguqError(f"{where}: already holds this prediction (use --overwrite to redo it)")
    if marker is not None and marker.get("kind") == "prediction" and folder.holds_results():
        change = describe_difference(marker.get("settings") or {}, settings)
        raise SeguqError(
            f"{where}: holds a prediction with other settings ({change}); use another --out "
            "or --overwrite"
        )
    if resume:
        raise SeguqError(f"--resume {folder.path}: no interrupted prediction to continue there")
    folder.claim(overwrite=False, settings=settings)
    return {}


SCORE_COLUMNS = ["id", "domain", "score", "uncertainty", "p_value", "ood", "predicted_dice"]


def write_scores(path: Path, rows: list[dict[str, object]]) -> Path:
    buffer = io.StringIO()
    fields = list(dict.fromkeys(key for row in rows for key in row)) if rows else SCORE_COLUMNS
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write(path, lambda tmp: tmp.write_text(buffer.getvalue()))


def write_json(path: Path, payload: dict) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(payload, indent=2)))
