"""Training: data selection, the Lightning trainer, checkpoints, and what a run stores."""

from __future__ import annotations

import copy
import csv
import io
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader

from seguq.config import RunConfig, save_config
from seguq.data.arrays import load_case
from seguq.data.augment import intensity_augmentation
from seguq.data.case import Case, select_cases
from seguq.data.slices import PatchDataset, SliceDataset, load_slices
from seguq.data.sources import Source, load_source
from seguq.engine.checkpoint import save_checkpoint
from seguq.engine.run_folder import is_worker_process, prepare_output
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


def split_cases(source: Source, config: RunConfig) -> tuple[list[Case], list[Case]]:
    """Training and validation cases from the data config.

    Training: `train_split` cases of `train_domains` (all domains when empty; a named domain
    without that split contributes all its labelled cases). Validation: the
    `val_split` cases of `val_domains` (default: the training domains) when the source has that
    split; otherwise a seeded `val_fraction` of the training cases is held out.

    Raises:
        SeguqError: unknown domains or splits, or an empty selection.
    """
    data = config.data
    labelled = [c for c in source.cases if c.masks]
    if not labelled:
        raise SeguqError(f"{source.name}: no case has a mask; training needs labelled data")
    splits = {c.split for c in labelled}
    train_split = [data.train_split] if data.train_split and data.train_split in splits else None
    if data.train_split and data.train_split not in splits and splits != {""}:
        raise SeguqError(
            f"{source.name}: unknown split '{data.train_split}' "
            f"(known: {', '.join(sorted(splits))})"
        )
    train = (
        select_cases(
            labelled, splits=train_split, domains=data.train_domains or None, source=source.name
        )
        if train_split is None or not data.train_domains
        else _named_domains(labelled, data, source)
    )
    val_domains = data.val_domains or data.train_domains or None
    if data.val_split and data.val_split in splits and data.val_split != data.train_split:
        val = select_cases(
            labelled, splits=[data.val_split], domains=val_domains, source=source.name
        )
        return train, val
    # Held out from the training cases of the validation domains; a validation domain that is
    # not trained on lends all its labelled cases (but never the "ood" split).
    val_pool = train
    if data.val_domains:
        select_cases(labelled, domains=data.val_domains, source=source.name)  # checks the names
        val_pool = [c for c in train if c.domain in data.val_domains] or [
            c for c in labelled if c.domain in data.val_domains and c.split != "ood"
        ]
    rng = np.random.default_rng(config.train.seed)
    n_val = max(1, round(data.val_fraction * len(val_pool))) if len(val_pool) > 1 else 0
    held = {val_pool[i].id for i in rng.choice(len(val_pool), size=n_val, replace=False)}
    val = [c for c in val_pool if c.id in held]
    train = [c for c in train if c.id not in held] or train
    return train, val or train[:1]


def _named_domains(labelled: list[Case], data, source: Source) -> list[Case]:
    """The `train_split` cases of each named training domain; a named domain without that split
    (e.g. CHASE_DB1 in the vessels manifest, which has no splits) contributes all its cases."""
    select_cases(labelled, domains=data.train_domains, source=source.name)  # checks the names
    chosen = []
    for domain in data.train_domains:
        cases = [c for c in labelled if c.domain == domain]
        in_split = [c for c in cases if c.split == data.train_split]
        chosen += in_split or cases
    return chosen


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

    Returns:
        The best validation Dice.
    """
    config = method.config
    data, opt = config.data, config.train
    if opt.threads > 0:
        torch.set_num_threads(opt.threads)  # fewer threads than cores helps on a busy machine
    L.seed_everything(opt.seed, workers=True, verbose=False)
    train_slices = load_slices(
        source, train_cases, slice_axis=data.slice_axis, in_channels=data.in_channels
    )
    val_slices = load_slices(
        source, val_cases, slice_axis=data.slice_axis, in_channels=data.in_channels
    )
    length = opt.steps_per_epoch * data.batch_size if opt.steps_per_epoch else None
    length = max(length or len(train_slices), data.batch_size)
    patches = PatchDataset(
        train_slices,
        data.patch_size,
        length=length,
        augment=data.augment,
        rater=data.rater,
        seed=opt.seed,
        intensity=intensity_augmentation(data.intensity_augment),
    )
    train_loader = DataLoader(patches, batch_size=data.batch_size, shuffle=True, drop_last=False)
    val_loader = DataLoader(SliceDataset(val_slices), batch_size=1)
    folder = run_dir / "checkpoints"
    saver = _SaveMethod(folder)
    resume_ckpt = folder / "resume.ckpt"
    trainer = L.Trainer(
        max_epochs=opt.epochs,
        accelerator=opt.accelerator,
        devices=opt.devices,
        strategy=opt.strategy,
        precision=opt.precision,
        deterministic=False,
        logger=CSVLogger(save_dir=run_dir, name="", version="logs"),
        callbacks=[saver, _ResumeCheckpoint(resume_ckpt)],
        enable_checkpointing=False,
        enable_progress_bar=opt.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
    )
    task = SegmentationTask(
        method,
        lr=opt.lr,
        weight_decay=opt.weight_decay,
        epochs=opt.epochs,
        patch_size=data.patch_size,
    )
    ckpt = str(resume_ckpt) if resume and resume_ckpt.is_file() else None
    if ckpt:
        saver.best = _previous_best(folder / "best.pt")
    with _kept_log(run_dir / "logs" / "metrics.csv", keep=ckpt is not None):
        trainer.fit(task, train_loader, val_loader, ckpt_path=ckpt)
    if not trainer.is_global_zero:
        return float("nan")
    return saver.best


class _ResumeCheckpoint(Callback):
    """Saves the full Lightning state (optimiser, schedule, epoch) each epoch, for --resume."""

    def __init__(self, path: Path):
        self.path = path

    def on_train_epoch_end(self, trainer: L.Trainer, task: SegmentationTask) -> None:
        trainer.save_checkpoint(self.path)


@contextmanager
def _kept_log(path: Path, *, keep: bool) -> Iterator[None]:
    """On resume, keep the earlier epochs' rows: Lightning's CSV logger rewrites metrics.csv."""
    previous = path.read_text() if keep and path.is_file() and not is_worker_process() else None
    yield
    if previous is None or not path.is_file():
        return
    old = list(csv.DictReader(io.StringIO(previous)))
    new = list(csv.DictReader(io.StringIO(path.read_text())))
    fields = list(dict.fromkeys([*(old[0] if old else {}), *(new[0] if new else {})]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(old + new)
    path.write_text(buffer.getvalue())


def _previous_best(path: Path) -> float:
    from seguq.engine.checkpoint import read_checkpoint

    if not path.is_file():
        return -1.0
    return float(read_checkpoint(path)["info"].get("val_dice", -1.0))


def train(
    config: RunConfig, out: Path, *, overwrite: bool = False, resume: bool = False
) -> TrainResult:
    """Train the configured method on the configured data and store the run in `out`.

    The run folder holds config.yaml (the resolved config), checkpoints/best.pt and last.pt
    (weights + config, safe to load), checkpoints/resume.ckpt (Lightning state), logs/metrics.csv,
    ood_reference.json (in-distribution validation scores for the OOD flag) and train_summary.json.

    Args:
        config: the run's configuration (modified in place: data channels and classes are
            filled in).
        out: the run folder.
        overwrite: replace an existing run folder.
        resume: continue an interrupted run in `out` from its last epoch.

    Raises:
        SeguqError: bad data, an unknown method or option, or an existing run folder.
    """
    start = time.perf_counter()
    out = Path(out)
    if resume and not (out / "config.yaml").is_file():
        raise SeguqError(f"--resume {out}: no run to resume here (missing config.yaml)")
    prepare_output(out, overwrite=overwrite, resume=resume)
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
    L.seed_everything(config.train.seed, verbose=False)  # the initial weights too
    method = build_method(config, config.data.in_channels, config.data.num_classes)
    if not is_worker_process():
        save_config(config, out / "config.yaml")
    if method.member_count > 1:
        best = _train_members(method, source, train_cases, val_cases, out, resume=resume)
    else:
        best = fit_method(method, source, train_cases, val_cases, out, resume=resume)
    if is_worker_process():
        return TrainResult(out, out / "checkpoints" / "best.pt", best, time.perf_counter() - start)
    from seguq.engine.after_training import finish_run

    finish_run(out, source, val_cases)
    seconds = time.perf_counter() - start
    summary = {
        "val_dice": best,
        "seconds": seconds,
        "train_cases": len(train_cases),
        "val_cases": len(val_cases),
        "method": config.method.name,
    }
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2))
    return TrainResult(out, out / "checkpoints" / "best.pt", best, seconds)


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
