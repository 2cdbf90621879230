"""Tables built from demo summaries, evaluations and scores (benchmarks bring their own)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from seguq.report.document import Table
from seguq.report.outputs import ScoreRow, fmt

SCORE_ROWS_SHOWN = 200


def _get(data: dict | None, *keys: str) -> object:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _mean(values: Sequence[object]) -> float | None:
    finite = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def evaluation_table(entries: Sequence[tuple[str, str, dict]], class_names: Sequence[str]) -> Table:
    """One row per (method, set, evaluation): Dice overall and per class, HD95, calibration,
    error detection (total map) and triage."""
    names = list(class_names[1:]) or sorted(
        {c for _, _, e in entries for c in (_get(e, "segmentation", "per_class") or {})}
    )
    columns = ["method", "set", "cases", "Dice", *(f"Dice {n}" for n in names), "HD95"]
    columns += ["ECE", "ECE foreground", "ECE predicted foreground", "Brier", "error AUROC"]
    columns += ["AURC", "filtered-Dice AUC"]
    rows = []
    for method, set_name, evaluation in entries:
        per_class = _get(evaluation, "segmentation", "per_class") or {}
        hd95 = _mean([_get(per_class, n, "hd95", "mean") for n in per_class])
        rows.append(
            [
                method,
                set_name,
                fmt(evaluation.get("cases")),
                fmt(_get(evaluation, "segmentation", "mean_dice")),
                *(fmt(_get(per_class, n, "dice", "mean")) for n in names),
                fmt(hd95, 2),
                fmt(_get(evaluation, "calibration", "ece")),
                fmt(_get(evaluation, "calibration", "ece_foreground")),
                fmt(_get(evaluation, "calibration", "ece_predicted_foreground")),
                fmt(_get(evaluation, "calibration", "brier")),
                fmt(_get(evaluation, "error_detection", "total", "auroc")),
                fmt(_get(evaluation, "triage", "aurc")),
                fmt(_get(evaluation, "triage", "filtered_dice_auc")),
            ]
        )
    return Table("Evaluation by set", columns, rows)


def demo_table(summary: dict) -> Table:
    """The demo's headline numbers, one row."""
    columns = ["method", "epochs", "Dice in-domain", "Dice unseen domain", "ECE in-domain"]
    columns += ["error AUROC in-domain", "OOD AUROC", "val Dice (training)", "time"]
    seconds = summary.get("seconds")
    row = [
        str(summary.get("method", "?")),
        fmt(summary.get("epochs")),
        fmt(summary.get("dice_in_domain")),
        fmt(summary.get("dice_unseen_domain")),
        fmt(summary.get("ece_in_domain")),
        fmt(summary.get("error_auroc_in_domain")),
        fmt(summary.get("ood_auroc")),
        fmt(summary.get("train_val_dice")),
        f"{seconds:.0f} s" if isinstance(seconds, int | float) else "–",
    ]
    return Table("Main results", columns, [row], main=True)


def prediction_table(
    method: str, info: dict, rows: Sequence[ScoreRow] | None, evaluation: dict | None
) -> Table:
    """A prediction folder in one row: cases, samples, maps, flagged cases, scores, Dice."""
    scores = [r.score for r in rows or []]
    flags = [r.ood for r in rows or [] if r.ood is not None]
    columns = ["method", "cases", "samples", "maps", "flagged OOD", "mean score", "max score"]
    row = [
        method,
        fmt(info.get("cases", len(scores))),
        fmt(info.get("samples")),
        ", ".join([*(info.get("maps") or []), *(info.get("auxiliary_maps") or [])]) or "–",
        f"{sum(flags)} of {len(flags)}" if flags else "–",
        fmt(_mean(scores), 4),
        fmt(max(scores) if scores else None, 4),
    ]
    if evaluation is not None:
        columns.append("Dice")
        row.append(fmt(_get(evaluation, "segmentation", "mean_dice")))
    return Table("Main results", columns, [row], main=True)


def scores_table(
    rows: Sequence[ScoreRow], dice: dict[str, float] | None = None, by: str = "score"
) -> Table:
    """scores.csv, the highest score first, or (`by="predicted_dice"`) the lowest predicted
    Dice first: the cases to review first (at most SCORE_ROWS_SHOWN rows)."""
    if by == "predicted_dice":
        known = [r for r in rows if r.predicted_dice is not None]
        ordered = sorted(known, key=lambda r: (r.predicted_dice, r.id))[:SCORE_ROWS_SHOWN]
    else:
        ordered = sorted(rows, key=lambda r: (-r.score, r.id))[:SCORE_ROWS_SHOWN]
    columns = ["id", "domain", "score", "p-value", "OOD flag", "predicted Dice"]
    if dice is not None:
        columns.append("Dice")
    body = []
    for r in ordered:
        cells = [
            r.id,
            r.domain or "–",
            fmt(r.score, 4),
            fmt(r.p_value, 3),
            fmt(r.ood),
            fmt(r.predicted_dice, 3),
        ]
        if dice is not None:
            cells.append(fmt(dice.get(r.id)))
        body.append(cells)
    more = len(rows) - len(ordered)
    if by == "predicted_dice":
        shown = f" (the {len(ordered)} lowest of {len(rows)})" if more else ""
        return Table(f"Cases to review first: lowest predicted Dice{shown}", columns, body)
    title = "Image scores" + (f" (the {len(ordered)} highest of {len(rows)})" if more else "")
    return Table(title, columns, body)
