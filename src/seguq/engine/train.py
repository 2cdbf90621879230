"""Training: data selection, the Lightning trainer, checkpoints, and what a run stores."""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping
from torch.utils.data import DataLoader, RandomSampler

from seguq.config import RunConfig, load_config, save_config
from seguq.config_checks import MIN_PATCH, check_config
from seguq.data.arrays import load_case
from seguq.data.case import Case
from seguq.data.io import atomic_write
from seguq.data.items import ItemDataset, ItemSet, load_items
from seguq.data.patches import PatchDataset
from seguq.data.preprocess import Preprocessing
from seguq.data.sources import Source, load_source
from seguq.devices import accelerator_device, loader_workers, resolve_precision, set_threads
from seguq.engine.checkpoint import save_checkpoint
from seguq.engine.convergence import run_convergence
from seguq.engine.loggers import check_loggers, extra_loggers, flat
from seguq.engine.metrics_log import MetricsLog, read_metrics
from seguq.engine.output_folder import MARKER, OutputFolder, read_marker, source_inputs
from seguq.engine.resume import (
    EpochSeeds,
    ResumeCheckpoint,
    check_resume_checkpoint,
    check_same_training,
)
from seguq.engine.run_folder import is_worker_process
from seguq.engine.splits import split_cases
from seguq.engine.task import SegmentationTask
from seguq.errors import SeguqError
from seguq.methods import Method, build_method

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What `train` produced."""

    run_dir: Path
    checkpoint: Path
    val_dice: float
    seconds: float
    label_map_note: str = ""  # how the data's label map was decided


class _SaveMethod(Callback):
    """Writes best.pt (highest val_dice) and last.pt in seguq's safe checkpoint format."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.best = -1.0

    def on_validation_end(self, trainer: L.Trainer, task: SegmentationTask) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        score = float(trainer.callback_metrics.get("val_dice", torch.tensor(-1.0)))
        info = {"epoch": trainer.current_epoch, "val_dice": score}
        save_checkpoint(task.method, self.folder / "last.pt", **info)
        if score > self.best:
            self.best = score
            save_checkpoint(task.method, self.folder / "best.pt", **info)


def fit_method(
    method: Method,
    source: Source,
    train_cases: list[Case],
    val_cases: list[Case],
    run_dir: Path,
    *,
    resume: bool = False,
) -> float:
    """Train `method` with Lightning; checkpoints and the CSV log go to `run_dir`.

    A killed fit resumed with `resume` ends with the weights an uninterrupted fit would have
    (same seed and machine; `seguq.engine.resume`).

    Returns:
        The best validation Dice.

    Raises:
        SeguqError: bad data, a patch far larger than the images, or an unusable resume
            checkpoint.
    """
    config = method.config
    data, opt = config.data, config.train
    device = accelerator_device(opt.accelerator)
    precision = resolve_precision(opt.precision, device)
    set_threads(opt.threads, processes=opt.devices if device.type == "cpu" else 1)
    L.seed_everything(opt.seed, workers=True, verbose=False)
    preprocessing = Preprocessing.of(data)
    layout = {"dims": data.dims, "slice_axis": data.slice_axis}
    train_items = load_items(source, train_cases, preprocessing, **layout)
    val_items = load_items(source, val_cases, preprocessing, **layout)
    check_patch_size(data.patch_size, train_items)
    length = opt.steps_per_epoch * data.batch_size if opt.steps_per_epoch else None
    length = max(length or len(train_items), data.batch_size)
    patches = PatchDataset.for_run(train_items, data, length=length, seed=opt.seed)
    shuffle = torch.Generator()
    # The loaders get generators of their own: creating an iterator draws a seed from the
    # loader's generator, and Lightning creates the first one of a resumed fit at another
    # moment than in an uninterrupted one; torch's global generator must not see that draw.
    workers = loader_workers(opt.workers, device)
    train_loader = DataLoader(
        patches,
        batch_size=data.batch_size,
        sampler=RandomSampler(patches, generator=shuffle),
        drop_last=False,
        generator=torch.Generator(),
        num_workers=workers,
        pin_memory=device.type == "cuda",
    )
    val_loader = DataLoader(ItemDataset(val_items), batch_size=1, generator=torch.Generator())
    folder = run_dir / "checkpoints"
    saver = _SaveMethod(folder)
    resume_ckpt = folder / "resume.ckpt"
    task = SegmentationTask(
        method,
        lr=opt.lr,
        weight_decay=opt.weight_decay,
        epochs=opt.epochs,
        patch_size=data.patch_size,
        class_names=data.class_names,
    )
    extra = extra_loggers(opt.loggers, run_dir)
    for logger in extra:
        logger.log_hyperparams(flat(config.to_dict()))
    ckpt = str(resume_ckpt) if resume and resume_ckpt.is_file() else None
    completed_epoch = check_resume_checkpoint(resume_ckpt, task) if ckpt else None
    # Data-loading workers copy the dataset when the first iterator is made, before the first
    # epoch's hooks run: it must already know the epoch it starts at.
    patches.set_epoch(0 if completed_epoch is None else completed_epoch + 1)
    if ckpt:
        saver.best = _previous_best(folder / "best.pt")
    trainer = L.Trainer(
        max_epochs=opt.epochs,
        accelerator=opt.accelerator,
        devices=opt.devices,
        strategy=opt.strategy,
        precision=precision,
        deterministic=False,
        logger=[MetricsLog(run_dir / "logs", completed_epoch=completed_epoch), *extra],
        callbacks=[
            ResumeCheckpoint(resume_ckpt),
            EpochSeeds(opt.seed, shuffle, patches),
            saver,
            *_early_stopping(opt),
        ],
        enable_checkpointing=False,
        enable_progress_bar=opt.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
    )
    trainer.fit(task, train_loader, val_loader, ckpt_path=ckpt, weights_only=True)
    if not trainer.is_global_zero:
        return float("nan")
    for logger in extra:  # the final numbers, as metrics of the last step
        logger.log_metrics({"best_val_dice": saver.best}, step=trainer.global_step)
        logger.finalize("success")
    return saver.best


def _early_stopping(opt) -> list[Callback]:
    """Stop when validation Dice has not improved by `min_delta` for `patience` epochs."""
    if opt.patience <= 0:
        return []
    return [
        EarlyStopping(
            monitor="val_dice", mode="max", patience=opt.patience, min_delta=opt.min_delta
        )
    ]


def check_patch_size(patch_size: list[int], items: ItemSet) -> None:
    """Refuse a patch far larger than every training image: it would be almost all padding
    (and a 4096-pixel patch on 256-pixel images takes gigabytes in one step).

    Raises:
        SeguqError: a patch side above twice the largest image side on that axis.
    """
    largest = items.largest_shape
    if len(largest) != len(patch_size):
        raise SeguqError(
            f"data.patch_size {list(patch_size)} has {len(patch_size)} sides, the training "
            f"items have {len(largest)} axes"
        )
    if any(p > 2 * max(n, MIN_PATCH) for p, n in zip(patch_size, largest, strict=True)):
        raise SeguqError(
            f"data.patch_size {list(patch_size)} is far larger than the largest training image "
            f"({' x '.join(map(str, largest))}); use at most {[2 * n for n in largest]}"
        )


def _previous_best(path: Path) -> float:
    from seguq.engine.checkpoint import read_checkpoint

    if not path.is_file():
        return -1.0
    return float(read_checkpoint(path)["info"].get("val_dice", -1.0))


def train(
    config: RunConfig,
    out: Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    plan: Any = None,
) -> TrainResult:
    """Train the configured method on the configured data and store the run in `out`.

    The run folder holds config.yaml (the resolved config), checkpoints/best.pt and last.pt
    (weights + config, safe to load), checkpoints/resume.ckpt (Lightning state), logs/metrics.csv,
    ood_reference.json (in-distribution validation scores for the OOD flag) and train_summary.json.

    Args:
        config: the run's configuration (modified in place: data channels and classes are
            filled in).
        out: the run folder.
        overwrite: replace an existing run folder that seguq wrote (kept until the new run is
            complete, restored if it fails).
        resume: continue an interrupted run in `out` from its last finished epoch; `config`
            must be the run's own (threads and progress may differ).
        plan: the `seguq.plan.Plan` that made `config`, saved in the run (plan.json with every
            decision and its reason, fingerprint.json).

    Raises:
        SeguqError: bad data, config or option; an existing run folder without `overwrite` or
            `resume`; a folder that holds the data.
    """
    start = time.perf_counter()
    out = Path(out)
    check_config(config)
    check_loggers(config.train.loggers)
    folder = OutputFolder(out, "run")
    if resume:
        check_same_training(_saved_config(out), config, out)
    elif not is_worker_process() and folder.holds_results() and not overwrite:
        raise SeguqError(_occupied(out))
    source = load_source(
        config.data.source, label_map=config.data.label_map, class_names=config.data.class_names
    )
    train_cases, val_cases = split_cases(source, config)
    config.data.label_map = dict(source.label_map)
    config.data.class_names = list(source.class_names)
    config.data.num_classes = source.num_classes
    config.data.in_channels = (
        config.data.in_channels or load_case(train_cases[0], source).image.shape[0]
    )
    if source.label_map_note and not resume:
        log.info("label map %s (%s)", source.label_map, source.label_map_note)
    L.seed_everything(config.train.seed, verbose=False)  # the initial weights too
    method = build_method(config, config.data.in_channels, config.data.num_classes)
    folder.protected = source_inputs(source)
    if config.data.calibration_source:
        folder.protected.append(("the calibration data", Path(config.data.calibration_source)))
    if resume:
        folder.reuse()
    else:
        folder.claim(overwrite=overwrite)
    if plan is not None and not is_worker_process():
        plan.save(out)
    try:
        best = _fit_and_finish(method, source, train_cases, val_cases, out, resume=resume)
    except BaseException:
        folder.abandon(keep_partial=_resumable(out))
        raise
    seconds = time.perf_counter() - start
    if not is_worker_process():
        summary = {
            "val_dice": best,
            "seconds": seconds,
            "train_cases": len(train_cases),
            "val_cases": len(val_cases),
            "method": config.method.name,
            "label_map": {str(k): v for k, v in source.label_map.items()},
            "label_map_note": source.label_map_note,
            "convergence": run_convergence(out, config.train.patience, config.train.min_delta),
        }
        atomic_write(
            out / "train_summary.json", lambda tmp: tmp.write_text(json.dumps(summary, indent=2))
        )
        folder.complete()
    return TrainResult(out, out / "checkpoints" / "best.pt", best, seconds, source.label_map_note)


def _fit_and_finish(
    method: Method,
    source: Source,
    train_cases: list[Case],
    val_cases: list[Case],
    out: Path,
    *,
    resume: bool,
) -> float:
    if not is_worker_process():
        save_config(method.config, out / "config.yaml")
    if method.member_count > 1:
        best = _train_members(method, source, train_cases, val_cases, out, resume=resume)
    else:
        best = fit_method(method, source, train_cases, val_cases, out, resume=resume)
    if not is_worker_process():
        from seguq.engine.after_training import finish_run

        spec = method.config.data.calibration_source
        calibration = list(load_source(spec).cases) if spec else None
        finish_run(
            out,
            source,
            val_cases,
            calibration,
            spec,
            train_cases=train_cases,
            progress=method.config.train.progress,
        )
    return best


def _saved_config(out: Path) -> RunConfig:
    """The config of the run `--resume` continues; only a folder seguq trained in (marked as a
    run, or an older seguq's run with its checkpoints) is resumed."""
    saved = out / "config.yaml"
    if not saved.is_file():
        raise SeguqError(f"--resume {out}: no run to resume here (missing config.yaml)")
    marker = read_marker(out)
    if marker is None and not (out / "checkpoints").is_dir():
        raise SeguqError(
            f"--resume {out}: not a folder seguq trained in (no {MARKER} nor checkpoints/)"
        )
    if marker is not None and marker.get("kind") != "run":
        raise SeguqError(f"--resume {out}: holds a seguq {marker.get('kind')}, not a run")
    return load_config(saved)


def _resumable(out: Path) -> bool:
    """True when `out` holds a resume checkpoint (of the run, or of an ensemble member)."""
    if (out / "checkpoints" / "resume.ckpt").is_file():
        return True
    return any((out / "members").glob("*/checkpoints/resume.ckpt"))


def _occupied(out: Path) -> str:
    """The refusal for a non-empty --out: says --resume when the folder holds a resumable run."""
    if _resumable(out) and not (out / "train_summary.json").is_file():
        epochs = [row.get("epoch") for row in read_metrics(out / "logs" / "metrics.csv")]
        done = f" after epoch {epochs[-1]}" if epochs and epochs[-1] not in (None, "") else ""
        return (
            f"--out {out}: holds an interrupted run (stopped{done}); continue it with --resume, "
            "or replace it with --overwrite"
        )
    return f"--out {out}: folder exists and is not empty (use --overwrite)"


def _train_members(
    method: Method,
    source: Source,
    train_cases: list[Case],
    val_cases: list[Case],
    out: Path,
    *,
    resume: bool,
) -> float:
    """Train each member as its own run (seed + m), then gather them into `method`."""
    from seguq.engine.checkpoint import read_checkpoint

    states, scores = [], []
    for m in range(method.member_count):
        member_dir = out / "members" / f"member{m}"
        done = member_dir / "checkpoints" / "best.pt"
        if not (resume and (member_dir / "done").is_file()):
            member_dir.mkdir(parents=True, exist_ok=True)
            member_config = copy.deepcopy(method.config)
            member_config.method.name = method.member_method
            member_config.train.seed = method.config.train.seed + m
            L.seed_everything(member_config.train.seed, verbose=False)
            member = build_method(member_config, method.in_channels, method.num_classes)
            fit_method(member, source, train_cases, val_cases, member_dir, resume=resume)
            (member_dir / "done").write_text("ok\n")
        payload = read_checkpoint(done)
        states.append(payload["state_dict"])
        scores.append(float(payload["info"].get("val_dice", float("nan"))))
    method.load_members(states)
    save_checkpoint(method, out / "checkpoints" / "best.pt", val_dice=float(np.mean(scores)))
    save_checkpoint(method, out / "checkpoints" / "last.pt", val_dice=float(np.mean(scores)))
    return float(np.mean(scores))
