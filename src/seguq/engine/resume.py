"""Resumable training that is the training it resumes.

Three pieces make a killed and resumed fit end with the weights of an uninterrupted one:
- the full Lightning state is saved (atomically) at the end of every training epoch, after its
  validation (where Lightning's own checkpoints are taken, the point it resumes from exactly);
- the random streams restart at every epoch from (seed, epoch): torch's global generator (dropout,
  latent noise), the shuffle order, and each patch's draws (`PatchDataset.set_epoch`);
- a resume checkpoint is checked before Lightning loads it: it must be a Lightning checkpoint of
  the same network, readable without running pickled code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from seguq.engine.metrics_log import MetricsLog
from seguq.errors import SeguqError


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch `epoch`'s random streams."""
    return int(np.random.default_rng([seed, epoch, 7919]).integers(2**62))


class EpochSeeds(Callback):
    """Reseeds every random stream of training at the start of each epoch.

    Args:
        seed: the run's seed.
        generator: the training sampler's generator (its shuffle order).
        dataset: the training dataset (anything with `set_epoch`).
    """

    def __init__(self, seed: int, generator: torch.Generator, dataset: Any):
        self.seed = seed
        self.generator = generator
        self.dataset = dataset

    def on_train_epoch_start(self, trainer: L.Trainer, task: L.LightningModule) -> None:
        seed = epoch_seed(self.seed, trainer.current_epoch)
        torch.manual_seed(seed)
        self.generator.manual_seed(seed + 1)
        self.dataset.set_epoch(trainer.current_epoch)


class ResumeCheckpoint(Callback):
    """Saves the full Lightning state to `path` at the end of each training epoch (after its
    validation), atomically; the epoch's training metrics are logged first, so that the log of
    a resumed run holds every epoch the checkpoint covers."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_train_epoch_end(self, trainer: L.Trainer, task: L.LightningModule) -> None:
        if isinstance(trainer.logger, MetricsLog):
            trainer.logger.log_training_epoch(trainer)
        temp = self.path.with_name(f".{self.path.name}.tmp")
        trainer.save_checkpoint(temp)  # every rank takes part; rank 0 writes
        if trainer.is_global_zero:
            os.replace(temp, self.path)


def check_resume_checkpoint(path: Path, task: L.LightningModule) -> int:
    """Check that `path` can resume `task` and return the last epoch it completed.

    Raises:
        SeguqError: the file is truncated, not a Lightning checkpoint, would need to run pickled
            code, or holds another network's weights.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any failure means "cannot resume from this"
        raise SeguqError(
            f"{path}: not a readable resume checkpoint ({type(error).__name__}); "
            "delete it to train from the start, or use --overwrite"
        ) from None
    needed = ("state_dict", "epoch", "global_step", "loops", "optimizer_states")
    if not isinstance(payload, dict) or any(key not in payload for key in needed):
        raise SeguqError(f"{path}: not a seguq resume checkpoint (missing Lightning state)")
    expected = {k: tuple(v.shape) for k, v in task.state_dict().items()}
    found = {
        k: tuple(v.shape) for k, v in payload["state_dict"].items() if isinstance(v, torch.Tensor)
    }
    if found != expected:
        differing = sorted(set(found) ^ set(expected)) or [
            k for k in expected if found.get(k) != expected[k]
        ]
        raise SeguqError(
            f"{path}: holds the weights of another network (e.g. {differing[0]}); it cannot "
            "resume this run"
        )
    return int(payload["epoch"])


# Settings a resumed run may change: they do not change what is computed.
RESUME_MAY_DIFFER = {
    ("train", "threads"),
    ("train", "progress"),
    ("train", "workers"),
    ("train", "loggers"),
}
# Filled in from the data when training starts: a config that leaves them unset matches any.
FILLED_AT_TRAINING = {
    ("data", "label_map"),
    ("data", "class_names"),
    ("data", "num_classes"),
    ("data", "in_channels"),
}


def check_same_training(saved: Any, given: Any, out: Path) -> None:
    """Refuse to resume a run with a config other than its own.

    Args:
        saved: the run's `RunConfig` (its config.yaml).
        given: the config `train` was called with.
        out: the run folder, for the message.

    Raises:
        SeguqError: a value that changes the training differs; the message names the first few.
    """
    old, new = saved.to_dict(), given.to_dict()
    differences = []
    for section, values in old.items():
        for key, value in values.items():
            if (section, key) in RESUME_MAY_DIFFER:
                continue
            if (section, key) in FILLED_AT_TRAINING and new[section][key] in (None, 0, [], {}):
                continue
            if new[section][key] != value:
                differences.append(f"{section}.{key} {value!r}, not {new[section][key]!r}")
    if differences:
        raise SeguqError(
            f"--resume {out}: the run was trained with {'; '.join(differences[:3])}; a resumed "
            "run keeps its own config (drop those options, or start again with --overwrite)"
        )
