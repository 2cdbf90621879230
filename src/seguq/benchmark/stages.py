"""The stages of a benchmark for one trained method: train (or reuse), predict a set, evaluate it.

Each stage skips work that is already finished with the same settings, so that an interrupted
benchmark resumes where it stopped.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from seguq.benchmark.tables import write_json
from seguq.benchmark.training import train_run
from seguq.config import RunConfig, load_config
from seguq.data.maps import MAP_ENDINGS, find_output, read_map
from seguq.engine.evaluate import evaluate, read_scores
from seguq.engine.predict import predict
from seguq.errors import SeguqError
from seguq.metrics.ambiguity import pairwise_iou

HIERARCHICAL = ("hue", "phiseg")  # methods with per-level maps


def budget(config: RunConfig) -> dict:
    """What must match for a finished run to be reused: data selection, budget, method."""
    d, t, m = config.data, config.train, config.method
    return {
        "source": d.source,
        "train_split": d.train_split,
        "train_domains": list(d.train_domains),
        "val_domains": list(d.val_domains),
        "intensity_augment": d.intensity_augment,
        "patch_size": list(d.patch_size),
        "batch_size": d.batch_size,
        "epochs": t.epochs,
        "steps_per_epoch": t.steps_per_epoch,
        "seed": t.seed,
        "method": m.name,
        "members": m.members if m.name == "ensemble" else None,
        "options": dict(m.options or {}),
        "dropout": config.net.dropout,
    }


def train_method(
    config: RunConfig, run_dir: Path, label: str, say: Callable[[str], None] = print
) -> dict:
    """Train, resume an interrupted run, or reuse a finished run trained with the same budget.

    Returns:
        The run's `train_summary.json` with "reused" (and "resumed") added.

    Raises:
        SeguqError: the folder holds a run trained with another budget.
    """
    summary = run_dir / "train_summary.json"
    if (run_dir / "checkpoints" / "best.pt").is_file() and summary.is_file():
        saved = load_config(run_dir / "config.yaml")
        if budget(saved) != budget(config):
            raise SeguqError(
                f"{run_dir}: trained with another budget ({budget(saved)}); use another --out "
                "or --overwrite"
            )
        say(f"train {label}: reusing {run_dir}")
        return {**json.loads(summary.read_text()), "reused": True}
    resume = (run_dir / "config.yaml").is_file()
    say(f"train {label}{' (resuming)' if resume else ''} -> {run_dir}")
    train_run(config, run_dir, resume=resume)
    trained = json.loads(summary.read_text())
    say(f"train {label}: {trained['seconds']:.0f} s, val Dice {trained['val_dice']:.4f}")
    return {**trained, "reused": False, "resumed": resume}


def predict_set(
    run_dir: Path,
    manifest: Path,
    ids: Sequence[str],
    out: Path,
    *,
    samples: int | None,
    maps: Sequence[str],
    save_probs: bool,
    save_samples: int = 0,
    per_level: bool = False,
    device: str = "auto",
    threads: int | None = None,
) -> dict:
    """Predict one set, or reuse a finished folder holding every case (and the samples asked for).

    Returns:
        {"seconds", "cases", "ms_per_image", "save_samples"} of the prediction that made it.
    """
    timing = out / "timing.json"
    done = (out / "scores.csv").is_file() and sorted(read_scores(out)) == sorted(ids)
    has_samples = not save_samples or find_output(out, ids[0], "samples", MAP_ENDINGS)
    if done and has_samples and timing.is_file():
        return json.loads(timing.read_text())
    start = time.perf_counter()
    result = predict(
        run_dir,
        manifest,
        out,
        samples=samples,
        maps=list(maps),
        save_probs=save_probs,
        save_samples=save_samples,
        per_level=per_level,
        threads=threads,
        device=device,
        overwrite=True,
        reuse=True,
        progress=False,
    )
    seconds = time.perf_counter() - start
    record = {
        "seconds": seconds,
        "cases": result.cases,
        "ms_per_image": 1e3 * seconds / result.cases,
        "save_samples": save_samples,
    }
    write_json(timing, record)
    return record


SCORE_COLUMNS = ("uncertainty", "predicted_dice", "p_value", "ood")


def score_columns(pred_dir: Path) -> dict[str, list]:
    """The case scores of a prediction folder beside `score`, each a list in case-id order (the
    order of the run's `scores`): the uncertainty score, the feature distance per level (the
    combined score's components), the predicted Dice, the p-value and the flag (None where a
    column is empty, e.g. a refused flag)."""
    with (pred_dir / "scores.csv").open() as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: row["id"])
    out: dict[str, list] = {}
    levels = [c for c in (rows[0] if rows else {}) if c.startswith("feature_level")]
    for column in (SCORE_COLUMNS[0], *levels, *SCORE_COLUMNS[1:]):
        if rows and column in rows[0]:
            values = [row[column] for row in rows]
            if column == "ood":
                out[column] = [None if v == "" else v.lower() == "true" for v in values]
            else:
                out[column] = [None if v == "" else float(v) for v in values]
    return out


def sample_count(pred_dir: Path) -> int:
    """S used by a prediction folder (from its scores.csv)."""
    with (pred_dir / "scores.csv").open() as handle:
        return int(next(csv.DictReader(handle))["samples"])


def sample_diversity(pred_dir: Path, ids: Sequence[str], num_classes: int) -> dict:
    """E[d(s, s')]: mean over cases of the mean pairwise 1 - IoU between distinct saved samples.

    IoU as in `seguq.metrics.ambiguity.pairwise_iou` (mean over the foreground classes present).
    Cases with fewer than two saved samples are skipped.
    """
    values = []
    for case_id in ids:
        path = find_output(pred_dir, case_id, "samples", MAP_ENDINGS)
        if path is None:
            continue
        saved = read_map(path, 2)
        if saved.ndim == 2 or saved.shape[0] < 2:
            continue
        saved = np.rint(saved).astype(np.int64)
        distance = 1.0 - pairwise_iou(saved, saved, num_classes)
        n = saved.shape[0]
        values.append(float(distance.sum() / (n * (n - 1))))  # diagonal is 0
    if not values:
        return {"mean": None, "cases": 0}
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "cases": len(values)}


def evaluate_set(pred_dir: Path, manifest: Path, out_file: Path, label_map: dict | None) -> dict:
    """Evaluate a prediction folder (reusing `out_file` when it is newer than the scores)."""
    scores = pred_dir / "scores.csv"
    if out_file.is_file() and out_file.stat().st_mtime >= scores.stat().st_mtime:
        result = json.loads(out_file.read_text())
    else:
        result = evaluate(
            pred_dir, manifest, out_file, label_map=label_map, overwrite=True, progress=False
        )
    return summarise_evaluation(result)


def summarise_evaluation(result: dict) -> dict:
    """The headline numbers of one `seguq evaluate` result."""
    calibration = result.get("calibration", {})
    detection = result.get("error_detection", {})
    segmentation = result["segmentation"]
    per_class = segmentation["per_class"]
    return {
        "cases": result["cases"],
        "dice_mean": segmentation["mean_dice"],
        "dice": {k: v["dice"]["mean"] for k, v in per_class.items()},
        "hd95": {k: v["hd95"]["mean"] for k, v in per_class.items()},
        "ece": calibration.get("ece"),
        "brier": calibration.get("brier"),
        "nll": calibration.get("nll"),
        "error_auroc": {name: d["auroc"] for name, d in detection.items()},
        "aurc": result.get("triage", {}).get("aurc"),
        "e_aurc": result.get("triage", {}).get("e_aurc"),
        "ambiguity": result.get("ambiguity"),
        "case_dice": case_dice(result),
        # hierarchical methods predicted with --per-level: each level's share of each map and
        # the pixel correlation between levels (seguq.engine.hierarchy; None for the others)
        "hierarchy": result.get("hierarchy"),
    }


def case_dice(result: dict) -> dict[str, float]:
    """Each case's Dice averaged over the foreground classes (the pairs of paired tests)."""
    by_case: dict[str, list[float]] = {}
    for row in result.get("per_case", []):
        by_case.setdefault(row["id"], []).append(float(row["dice"]))
    return {case_id: float(np.mean(values)) for case_id, values in sorted(by_case.items())}
