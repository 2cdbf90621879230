"""`seguq demo`: synthetic multi-site data -> train on three sites -> predict on a held-out set of
a training site and on the unseen fourth site -> evaluate -> summary.json."""

from __future__ import annotations

import json
import time
from pathlib import Path

from seguq.config import RunConfig
from seguq.data.synthetic import SITES, generate_synthetic
from seguq.engine.evaluate import evaluate, json_safe, read_scores
from seguq.engine.output_folder import OutputFolder
from seguq.engine.predict import predict
from seguq.engine.train import train
from seguq.metrics.ood import ood_scores

DEMO_EPOCHS = 12


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
    ood = ood_scores(list(read_scores(pred_in).values()), list(read_scores(pred_ood).values()))
    summary = {
        "method": method,
        "epochs": config.train.epochs,
        "dice_in_domain": eval_in["segmentation"]["mean_dice"],
        "dice_unseen_domain": eval_unseen["segmentation"]["mean_dice"],
        "ece_in_domain": eval_in.get("calibration", {}).get("ece"),
        "error_auroc_in_domain": eval_in.get("error_detection", {}).get("total", {}).get("auroc"),
        "ood_auroc": ood["auroc"],
        "train_val_dice": run.val_dice,
        "seconds": time.perf_counter() - start,
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
    (out / "summary.json").write_text(json.dumps(json_safe(summary), indent=2))
    if report:
        from seguq.report import write_report

        write_report(out)
    return summary
