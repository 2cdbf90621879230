"""Evaluation of a prediction folder against a labelled source: segmentation per case, class and
domain; calibration and error detection when probabilities and maps were saved; image-level triage
(AURC, filtered Dice); OOD detection against a second prediction folder or source."""

from __future__ import annotations

import csv
import io
import json
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from seguq.data.arrays import load_case
from seguq.data.case import select_cases
from seguq.data.io import atomic_write, read_mask
from seguq.data.maps import MAP_ENDINGS, MASK_ENDINGS, find_output, read_map
from seguq.data.roi import region_of_interest
from seguq.data.sources import load_source
from seguq.engine.hierarchy import level_diagnostics
from seguq.engine.output_folder import register_outputs, source_inputs
from seguq.errors import SeguqError
from seguq.metrics.ambiguity import AmbiguityAccumulator
from seguq.metrics.calibration import CalibrationAccumulator
from seguq.metrics.error_detection import ErrorDetectionAccumulator
from seguq.metrics.failure import failure_detection
from seguq.metrics.ood import ood_scores
from seguq.metrics.risk_coverage import aurc, e_aurc, filtered_dice_auc, filtered_dice_curve
from seguq.metrics.segmentation import aggregate_segmentation_scores, segmentation_scores
from seguq.progress import progress as progress_bar

CONVENTIONS = (
    "Dice/IoU/HD95/ASSD per foreground class against the first annotator. Both masks empty: "
    "dice 1, iou 1, hd95 0, assd 0. Exactly one empty: dice 0, iou 0, hd95/assd NaN (undefined; "
    "skipped in means and counted in n_skipped). Distances in the image's spacing units."
)


def read_prediction_info(pred_dir: Path) -> dict:
    """prediction.json of a prediction folder.

    Raises:
        SeguqError: the folder is missing or is not a seguq prediction folder.
    """
    path = Path(pred_dir) / "prediction.json"
    if not Path(pred_dir).is_dir():
        raise SeguqError(f"--pred {pred_dir}: folder not found")
    if not path.is_file():
        raise SeguqError(
            f"--pred {pred_dir}: not a seguq prediction folder (missing prediction.json)"
        )
    return json.loads(path.read_text())


def read_scores(pred_dir: Path) -> dict[str, float]:
    """Image scores from scores.csv, by case id."""
    path = Path(pred_dir) / "scores.csv"
    if not path.is_file():
        raise SeguqError(f"{pred_dir}: missing scores.csv")
    with path.open() as handle:
        return {row["id"]: float(row["score"]) for row in csv.DictReader(handle)}


def read_case_scores(pred_dir: Path) -> dict[str, dict[str, float]]:
    """Per case id, the case scores of scores.csv as uncertainties (higher = more likely to
    fail): "score", and "predicted_dice" as 1 - predicted Dice where the folder has it."""
    path = Path(pred_dir) / "scores.csv"
    out: dict[str, dict[str, float]] = {}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            values = {"score": float(row["score"])}
            if row.get("predicted_dice") not in (None, ""):
                values["predicted_dice"] = 1.0 - float(row["predicted_dice"])
            out[row["id"]] = values
    return out


def evaluate(
    pred_dir: Path,
    data: str | Path,
    out_file: Path,
    *,
    splits: Sequence[str] | None = None,
    domains: Sequence[str] | None = None,
    label_map: dict[int, int] | None = None,
    ood_data: str | Path | None = None,
    ood_limit: int | None = None,
    device: str = "auto",
    failure_dice: float = 0.7,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Score a prediction folder against the labelled cases of `data`.

    Writes `out_file` (JSON: per-case rows, summaries per class and domain, and every data-set
    metric) and the per-case table beside it (same name, `.csv`). `ood_data` (a prediction
    folder, or a source predicted here with the same model) adds OOD detection; `ood_limit`
    predicts only a seeded subset of that many of its cases.

    Raises:
        SeguqError: missing predictions, bad source or selection, or an existing output.
    """
    pred_dir, out_file = Path(pred_dir), Path(out_file)
    info = read_prediction_info(pred_dir)
    if out_file.suffix.lower() != ".json":
        raise SeguqError(f"--out {out_file}: expected a .json file (the table goes beside it)")
    source = load_source(data, label_map=label_map)
    _check_outputs(out_file, source, pred_dir, overwrite, ood_data)
    cases = [c for c in source.cases if c.masks]
    if not cases:
        raise SeguqError(f"{source.name}: no case has a mask to evaluate against")
    if splits or domains:
        cases = select_cases(
            cases,
            splits=list(splits or []) or None,
            domains=list(domains or []) or None,
            source=source.name,
        )
    num_classes = max(len(info.get("class_names") or []), source.num_classes)
    class_names = list(info.get("class_names") or source.class_names)
    class_names += [f"class{k}" for k in range(len(class_names), num_classes)]
    scores = read_scores(pred_dir)
    calibration = CalibrationAccumulator()
    detectors = {name: ErrorDetectionAccumulator(seed=0) for name in info.get("maps", [])}
    ambiguity = AmbiguityAccumulator(num_classes)
    rows, per_case, image_scores, image_dice, all_dice = [], [], [], [], []
    with_roi = 0
    for case in progress_bar(cases, "evaluate", "case", progress):
        mask_path = find_output(pred_dir, case.id, "mask", MASK_ENDINGS)
        if mask_path is None:
            raise SeguqError(
                f"{pred_dir}: no prediction for case '{case.id}' (expected {case.id}_mask.*)"
            )
        pred, _ = read_mask(mask_path)
        arrays = load_case(case, source)
        truth = arrays.masks[0]
        if pred.shape != truth.shape:
            raise SeguqError(
                f"{mask_path}: shape {pred.shape} differs from the mask's {truth.shape}"
            )
        spacing = arrays.geometry.spacing or None
        roi = region_of_interest(case, source.root, truth.shape)
        if roi is not None:  # every pixel metric counts the region of interest only
            pred, truth = np.where(roi, pred, 0), np.where(roi, truth, 0)
            with_roi += 1
        case_scores = segmentation_scores(pred, truth, num_classes, spacing=spacing)
        per_case.append((case.domain, case_scores))
        for k, values in case_scores.items():
            rows.append({"id": case.id, "domain": case.domain, "class": class_names[k], **values})
        mean_dice = float(np.mean([v["dice"] for v in case_scores.values()]))
        all_dice.append(mean_dice)
        if case.id in scores:
            image_scores.append(scores[case.id])
            image_dice.append(mean_dice)
        _accumulate_pixels(pred_dir, case.id, pred, truth, calibration, detectors, roi)
        if arrays.masks.shape[0] >= 2:
            _accumulate_ambiguity(pred_dir, case.id, arrays.masks, ambiguity)
    result = {
        "pred": str(pred_dir),
        "data": str(data),
        "method": info.get("method"),
        "cases": len(cases),
        "conventions": CONVENTIONS,
        "region_of_interest": {
            "cases": with_roi,
            "note": "Dice, calibration and error detection count only the pixels inside the "
            "manifest's roi/fov mask of these cases",
        },
        "segmentation": _summaries(per_case, class_names),
        "per_case": rows,
    }
    if info.get("probabilities"):
        result["calibration"] = calibration.compute()
    if detectors:
        result["error_detection"] = {name: acc.compute() for name, acc in detectors.items()}
    if ambiguity.per_case["ged"]:
        result["ambiguity"] = {**ambiguity.compute(), "cases": len(ambiguity.per_case["ged"])}
    if len(image_scores) >= 2:
        risk = 1.0 - np.asarray(image_dice)
        fractions, curve = filtered_dice_curve(image_scores, image_dice)
        result["triage"] = {
            "aurc": aurc(image_scores, risk),
            "e_aurc": e_aurc(image_scores, risk),
            "filtered_dice_auc": filtered_dice_auc(image_scores, image_dice),
            "filtered_dice_curve": {"retained": fractions.tolist(), "dice": curve.tolist()},
        }
    uncertainties = read_case_scores(pred_dir)
    scored = [
        (case.id, d) for case, d in zip(cases, all_dice, strict=True) if case.id in uncertainties
    ]
    if len(scored) >= 2:
        names = sorted(set.intersection(*(set(uncertainties[i]) for i, _ in scored)))
        result["failure_detection"] = failure_detection(
            {name: [uncertainties[i][name] for i, _ in scored] for name in names},
            [d for _, d in scored],
            threshold=failure_dice,
        )
    hierarchy = level_diagnostics(pred_dir, info, [case.id for case in cases])
    if hierarchy is not None:
        result["hierarchy"] = hierarchy
    if ood_data is not None:
        result["ood"] = ood_detection(
            pred_dir,
            info,
            [scores[c.id] for c in cases if c.id in scores],
            ood_data,
            device,
            limit=ood_limit,
            progress=progress,
        )
    _write(out_file, result, rows)
    return result


def _accumulate_pixels(
    pred_dir: Path,
    case_id: str,
    pred: np.ndarray,
    truth: np.ndarray,
    calibration: CalibrationAccumulator,
    detectors: dict[str, ErrorDetectionAccumulator],
    roi: np.ndarray | None = None,
) -> None:
    mask = None if roi is None else torch.from_numpy(roi)[None]
    probs_path = find_output(pred_dir, case_id, "probs", MAP_ENDINGS)
    if probs_path is not None:
        probs = read_map(probs_path, truth.ndim)
        calibration.update(torch.from_numpy(probs)[None], torch.from_numpy(truth)[None], mask)
    errors = torch.from_numpy(pred != truth)[None]
    for name, accumulator in detectors.items():
        path = find_output(pred_dir, case_id, name, MAP_ENDINGS)
        if path is None:
            raise SeguqError(f"{pred_dir}: missing '{name}' map of case '{case_id}'")
        accumulator.update(torch.from_numpy(read_map(path, truth.ndim))[None], errors, mask)


def _accumulate_ambiguity(
    pred_dir: Path, case_id: str, annotations: np.ndarray, accumulator: AmbiguityAccumulator
) -> None:
    """GED and HM-IoU of the saved samples against every annotator; NCC of the total map with
    the annotators' disagreement. Needs `predict --save-samples K` (K >= 1)."""
    samples_path = find_output(pred_dir, case_id, "samples", MAP_ENDINGS)
    if samples_path is None:
        return
    samples = read_map(samples_path, annotations.ndim - 1)
    if samples.ndim == annotations.ndim - 1:
        samples = samples[None]
    total_path = find_output(pred_dir, case_id, "total", MAP_ENDINGS)
    total = read_map(total_path, annotations.ndim - 1) if total_path else None
    accumulator.update(np.rint(samples).astype(np.int64), annotations, total)


def ood_detection(
    pred_dir: Path,
    info: dict,
    in_scores: list[float],
    ood_data: str | Path,
    device: str = "auto",
    *,
    limit: int | None = None,
    progress: bool = False,
) -> dict:
    """OOD AUROC/AUPR/FPR95 of the image score: this folder's cases vs an OOD set.

    `ood_data` is either a prediction folder (its scores.csv is used) or a data source, which is
    then predicted with the same model and settings into a temporary folder.
    """
    ood_path = Path(ood_data)
    if (ood_path / "scores.csv").is_file():
        out_scores = list(read_scores(ood_path).values())
    elif not info.get("model"):
        raise SeguqError(
            f"--ood-data {ood_data}: {pred_dir} was not predicted by a seguq model; give "
            "--ood-data a prediction folder of the OOD cases (seguq from-nnunet on them)"
        )
    else:
        from seguq.engine.predict import predict

        with tempfile.TemporaryDirectory(prefix="seguq-ood-") as tmp:
            predict(
                Path(info["model"]),
                ood_data,
                Path(tmp) / "pred",
                samples=info.get("samples") or None,
                maps=[],
                save_probs=False,
                seed=int(info.get("seed", 0)),
                device=device,
                precision=info.get("precision", "auto"),
                max_cases=limit,
                progress=progress,
            )
            out_scores = list(read_scores(Path(tmp) / "pred").values())
    if len(in_scores) < 1 or len(out_scores) < 1:
        raise SeguqError(f"--ood-data {ood_data}: need scores for both sets")
    result = ood_scores(in_scores, out_scores)
    return {**result, "n_in": len(in_scores), "n_out": len(out_scores), "ood_data": str(ood_data)}


def _summaries(per_case: list[tuple[str, dict]], class_names: list[str]) -> dict:
    def named(summary: dict) -> dict:
        return {class_names[k]: v for k, v in summary.items()}

    overall = aggregate_segmentation_scores([scores for _, scores in per_case])
    domains = sorted({domain for domain, _ in per_case})
    by_domain = {
        d: named(aggregate_segmentation_scores([s for dom, s in per_case if dom == d]))
        for d in domains
    }
    mean_dice = [v["dice"]["mean"] for v in overall.values() if not math.isnan(v["dice"]["mean"])]
    return {
        "mean_dice": float(np.mean(mean_dice)) if mean_dice else math.nan,
        "per_class": named(overall),
        "per_domain": by_domain,
    }


def json_safe(value):
    """NaN and infinities -> None (JSON has no NaN); numpy scalars -> Python numbers."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _check_outputs(
    out_file: Path, source, pred_dir: Path, overwrite: bool, ood_data: str | Path | None = None
) -> None:
    """The JSON and its CSV twin: refused when they exist (without `overwrite`) or when either
    would replace a file the evaluation reads (the data, the prediction folder's outputs, the
    OOD set: its prediction folder's scores or its data).

    Raises:
        SeguqError: naming the file.
    """
    reads = {Path(p).resolve() for _, p in source_inputs(source)}
    if ood_data is not None:
        ood = Path(ood_data)
        if (ood / "scores.csv").is_file():
            reads |= {(ood / name).resolve() for name in ("scores.csv", "prediction.json")}
        else:
            reads |= {Path(p).resolve() for _, p in source_inputs(load_source(ood_data))}
    ids = tuple(f"{case.id}_" for case in source.cases)
    reads |= {
        p.resolve()
        for p in pred_dir.iterdir()
        if p.name in ("prediction.json", "scores.csv") or p.name.startswith(ids)
    }
    for path in (out_file, out_file.with_suffix(".csv")):
        if path.resolve() in reads:
            raise SeguqError(
                f"--out {out_file}: would replace {path}, which the evaluation reads; choose "
                "another file"
            )
        if path.exists() and not overwrite:
            raise SeguqError(f"--out {out_file}: {path} exists (use --overwrite)")


def _write(out_file: Path, result: dict, rows: list[dict]) -> None:
    out_file.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(json_safe(result), indent=2)
    atomic_write(out_file, lambda tmp: tmp.write_text(text))
    buffer = io.StringIO()
    fields = ["id", "domain", "class", "dice", "iou", "hd95", "assd"]
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(out_file.with_suffix(".csv"), lambda tmp: tmp.write_text(buffer.getvalue()))
    register_outputs(out_file.parent, [out_file.name, out_file.with_suffix(".csv").name])
