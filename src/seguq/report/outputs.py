"""Reading what `seguq predict` and `seguq evaluate` wrote, leniently: a report shows what it
can."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

from seguq.errors import SeguqError


@dataclass(frozen=True)
class ScoreRow:
    """One row of scores.csv; `ood` is None when no flag was given (no reference, or too few
    reference cases for the flag's alpha)."""

    id: str
    domain: str
    score: float
    p_value: float | None
    ood: bool | None
    predicted_dice: float | None = None


def read_json(path: Path, what: str = "file") -> dict:
    """A JSON object from a file.

    Raises:
        SeguqError: the file is missing, not JSON, or not an object.
    """
    path = Path(path)
    if not path.is_file():
        raise SeguqError(f"{path}: {what} not found")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SeguqError(f"{path}: cannot read this {what} ({error})") from None
    if not isinstance(data, dict):
        raise SeguqError(f"{path}: expected a JSON object in this {what}")
    return data


def _float(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def read_score_rows(pred_dir: Path) -> list[ScoreRow] | None:
    """The rows of `<pred_dir>/scores.csv` with a finite score; None when there is no file."""
    path = Path(pred_dir) / "scores.csv"
    if not path.is_file():
        return None
    rows = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            score = _float(row.get("score"))
            if score is None or not row.get("id"):
                continue
            flag = (row.get("ood") or "").strip().lower()
            rows.append(
                ScoreRow(
                    id=row["id"],
                    domain=row.get("domain") or "",
                    score=score,
                    p_value=_float(row.get("p_value")),
                    ood={"true": True, "false": False}.get(flag),
                    predicted_dice=_float(row.get("predicted_dice")),
                )
            )
    return rows


class ScoreCache:
    """scores.csv rows by prediction folder, each file read once per report."""

    def __init__(self) -> None:
        self._rows: dict[Path, list[ScoreRow] | None] = {}

    def rows(self, pred_dir: Path | None) -> list[ScoreRow] | None:
        """The folder's rows; None when there is no folder or no scores.csv."""
        if pred_dir is None:
            return None
        if pred_dir not in self._rows:
            self._rows[pred_dir] = read_score_rows(pred_dir)
        return self._rows[pred_dir]


def prediction_info(pred_dir: Path | None) -> dict:
    """prediction.json of a prediction folder, or {} when it is missing or unreadable."""
    if pred_dir is None:
        return {}
    try:
        return read_json(Path(pred_dir) / "prediction.json", "prediction.json")
    except SeguqError:
        return {}


def per_case_rows(evaluation: dict | None) -> list[dict]:
    """The per-case, per-class rows of an evaluation (`segmentation.per_case` or `per_case`)."""
    if not evaluation:
        return []
    rows = (evaluation.get("segmentation") or {}).get("per_case") or evaluation.get("per_case")
    return [row for row in rows or [] if isinstance(row, dict) and "id" in row]


def case_dice(evaluation: dict | None) -> dict[str, float]:
    """Each case's Dice averaged over its foreground classes (undefined values skipped)."""
    values: dict[str, list[float]] = {}
    for row in per_case_rows(evaluation):
        dice = row.get("dice")
        if isinstance(dice, int | float) and math.isfinite(dice):
            values.setdefault(str(row["id"]), []).append(float(dice))
    return {case: sum(v) / len(v) for case, v in values.items()}


def fmt(value: object, digits: int = 3) -> str:
    """A number with `digits` decimals; "–" when missing or not finite; text as it is."""
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else "–"
    return str(value)
