"""`seguq demo`: synthetic multi-site data -> train on three sites -> predict on a held-out set of
a training site and on the unseen fourth site -> evaluate -> summary.json."""

from __future__ import annotations

import json
import time
from pathlib import Path

from seguq.config import RunConfig
from seguq.data.io import atomic_write
from seguq.data.synthetic import SITES, generate_synthetic
from seguq.engine.checkpoint import load_method, read_checkpoint, save_checkpoint
from seguq.engine.evaluate import evaluate, json_safe, read_scores
from seguq.engine.output_folder import OutputFolder
from seguq.engine.predict import predict
from seguq.engine.train import train
from seguq.metrics.ood import ood_scores

DEMO_EPOCHS = 12
# What each number of summary.json means (written into it).
MEANING = {
    "dice_in_domain": "mean Dice of the foreground classes on held-out test images of the "
    "training sites (1 = perfect)",
    "dice_unseen_domain": "the same on the fourth site, never seen in training",
    "ece_in_domain": "expected calibration error of the pixel probabilities on the in-domain "
    "test images after temperature scaling (0 = calibrated; lower is better)",
    "ece_in_domain_before_calibration": "the same with the network's own probabilities "
    "(temperature 1)",
    "ece_foreground_in_domain": "ECE over the pixels predicted or annotated as foreground only "
    "(the hard pixels; the all-pixel ECE is dominated by easy background)",
    "temperature": "the temperature fitted on the validation images (> 1: the network was "
    "over-confident)",
    "error_auroc_in_domain": "how well the total-uncertainty map ranks wrong pixels above right "
    "ones: AUROC, 0.5 = chance, 1 = perfect",
    "ood_auroc": "how well the image score ranks out-of-distribution images (foreign anatomy, "
    "corrupted) above in-domain test images: AUROC, 0.5 = chance, 1 = perfect",
    "train_val_dice": "the best validation Dice during training",
    "seconds": "wall time of the whole demo",
}


def demo_config(manifest: Path, *, epochs: int, method: str, progress: bool) -> RunConfig:
    """The demo's run: train on site1-3, validate on their val split."""
    config = RunConfig()
    config.data.source = str(manifest)
    config.data.train_domains = list(SITES[:3])
    config.data.patch_size = [128, 128]
    config.data.batch_size = 8
    config.method.name = method
    config.train.epochs = epochs
    config.train.steps_per_epoch = 12
    config.train.lr = 2e-3
    config.train.progress = progress
    config.method.calibrate = True  # temperature scaling on the validation cases
    return config


def run_demo(
    out: Path,
    *,
    epochs: int | None = None,
    method: str = "deterministic",
    overwrite: bool = False,
    progress: bool = True,
    n_per_site: int = 20,
    size: int = 128,
    report: bool = False,
) -> dict:
    """Run the whole pipeline on synthetic data; returns (and writes) the summary.

    With `report`, also writes `out/report.html` and its figures (`seguq.report`).

    Raises:
        SeguqError: an existing output folder without `overwrite`, or a bad option.
    """
    start = time.perf_counter()
    folder = OutputFolder(Path(out), "demo")
    out = folder.claim(overwrite=overwrite)
    try:
        summary = _demo(out, start, epochs, method, progress, n_per_site, size, report)
    except BaseException:
        folder.abandon(keep_partial=False)
        raise
    folder.complete()
    return summary


def _temperature(run_dir: Path) -> float:
    return float(read_checkpoint(run_dir / "checkpoints" / "best.pt")["info"].get("temperature", 1))


def _uncalibrated_evaluation(
    run_dir: Path, manifest: Path, out: Path, sites: list[str], progress: bool
) -> dict:
    """The in-domain evaluation of the model at temperature 1 (before calibration): its
    checkpoint is kept as `run/checkpoints/uncalibrated.pt`."""
    best = run_dir / "checkpoints" / "best.pt"
    method = load_method(best)
    method.temperature.fill_(1.0)
    info = dict(read_checkpoint(best)["info"], temperature=1.0)
    plain = save_checkpoint(method, run_dir / "checkpoints" / "uncalibrated.pt", **info)
    pred = predict(
        plain,
        manifest,
        out / "pred_in_domain_uncalibrated",
        splits=["test"],
        domains=sites,
        progress=progress,
    ).out_dir
    return evaluate(
        pred,
        manifest,
        out / "eval_in_domain_uncalibrated.json",
        splits=["test"],
        domains=sites,
        progress=progress,
    )


def _demo(
    out: Path,
    start: float,
    epochs: int | None,
    method: str,
    progress: bool,
    n_per_site: int,
    size: int,
    report: bool,
) -> dict:
    manifest = generate_synthetic(out / "data", seed=0, n_per_site=n_per_site, size=size)
    config = demo_config(manifest, epochs=epochs or DEMO_EPOCHS, method=method, progress=progress)
    run = train(config, out / "run")
    seen, unseen = list(SITES[:3]), [SITES[3]]
    pred_in = predict(
        run.run_dir,
        manifest,
        out / "pred_in_domain",
        splits=["test"],
        domains=seen,
        progress=progress,
    ).out_dir
    pred_unseen = predict(
        run.run_dir, manifest, out / "pred_unseen_domain", domains=unseen, progress=progress
    ).out_dir
    pred_ood = predict(
        run.run_dir,
        manifest,
        out / "pred_ood",
        domains=["ood_anatomy", "ood_corrupt"],
        progress=progress,
    ).out_dir
    eval_in = evaluate(
        pred_in,
        manifest,
        out / "eval_in_domain.json",
        splits=["test"],
        domains=seen,
        progress=progress,
    )
    eval_unseen = evaluate(
        pred_unseen, manifest, out / "eval_unseen_domain.json", domains=unseen, progress=progress
    )
    before = _uncalibrated_evaluation(run.run_dir, manifest, out, seen, progress)
    ood = ood_scores(list(read_scores(pred_in).values()), list(read_scores(pred_ood).values()))
    summary = {
        "method": method,
        "epochs": config.train.epochs,
        "dice_in_domain": eval_in["segmentation"]["mean_dice"],
        "dice_unseen_domain": eval_unseen["segmentation"]["mean_dice"],
        "ece_in_domain": eval_in.get("calibration", {}).get("ece"),
        "ece_in_domain_before_calibration": before.get("calibration", {}).get("ece"),
        "ece_foreground_in_domain": eval_in.get("calibration", {}).get("ece_foreground"),
        "temperature": _temperature(run.run_dir),
        "error_auroc_in_domain": eval_in.get("error_detection", {}).get("total", {}).get("auroc"),
        "ood_auroc": ood["auroc"],
        "train_val_dice": run.val_dice,
        "seconds": time.perf_counter() - start,
        "meaning": MEANING,
        "paths": {
            "data": str(manifest),
            "run": str(run.run_dir),
            "pred_in_domain": str(pred_in),
            "pred_unseen_domain": str(pred_unseen),
            "pred_ood": str(pred_ood),
            "eval_in_domain": str(out / "eval_in_domain.json"),
            "eval_unseen_domain": str(out / "eval_unseen_domain.json"),
            "summary": str(out / "summary.json"),
        },
    }
    if report:
        summary["paths"]["report"] = str(out / "report.html")
    atomic_write(
        (out / "summary.json"), lambda tmp: tmp.write_text(json.dumps(json_safe(summary), indent=2))
    )
    if report:
        from seguq.report import write_report

        write_report(out)
    return summary
