"""The training log `logs/metrics.csv`: one row per (epoch, step), rewritten atomically on every
update, so that a kill never truncates it; a resumed run keeps the rows of the epochs it resumes
after and drops those of the epoch that was interrupted."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only


def read_metrics(path: Path) -> list[dict[str, str]]:
    """The rows of a metrics.csv ([] when it is missing or unreadable)."""
    try:
        with Path(path).open(newline="") as handle:
            return list(csv.DictReader(handle))
    except (OSError, csv.Error, UnicodeDecodeError):
        return []


class MetricsLog(Logger):
    """A Lightning logger writing `folder/metrics.csv`.

    Args:
        folder: the log folder (`RUN/logs`).
        completed_epoch: for a resumed fit, the last epoch its checkpoint completed: the rows of
            an existing file up to it are kept, later ones dropped. None starts a new file.
    """

    def __init__(self, folder: Path, completed_epoch: int | None = None):
        super().__init__()
        self.folder = Path(folder)
        self.path = self.folder / "metrics.csv"
        self.rows: list[dict[str, Any]] = []
        if completed_epoch is not None:
            self.rows = [row for row in read_metrics(self.path) if _epoch(row) <= completed_epoch]

    @property
    def name(self) -> str:
        return "seguq"

    @property
    def version(self) -> None:
        return None  # nothing to show as "v_num" in the progress bar

    @property
    def log_dir(self) -> str:
        return str(self.folder)

    @property
    def save_dir(self) -> str:
        return str(self.folder)

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        """Nothing: the run's config.yaml holds them."""

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        row: dict[str, Any] = {"step": step, **{k: float(v) for k, v in metrics.items()}}
        if "epoch" in row:
            row["epoch"] = int(row["epoch"])
        # Lightning logs an epoch's training and validation values in separate calls.
        if self.rows and str(self.rows[-1].get("step")) == str(step):
            self.rows[-1].update(row)
        else:
            self.rows.append(row)
        self._write()

    def log_training_epoch(self, trainer: Any) -> None:
        """Log the epoch's training metrics now (Lightning logs them after the epoch-end hooks,
        where the resume checkpoint is saved); Lightning's own call then finds the same row."""
        values = {
            name: float(value)
            for name, value in trainer.callback_metrics.items()
            if name.startswith("train_")
        }
        if values:
            self.log_metrics({**values, "epoch": trainer.current_epoch}, trainer.global_step - 1)

    def _write(self) -> None:
        columns = list(dict.fromkeys(key for row in self.rows for key in row))
        lead = [c for c in ("epoch", "step") if c in columns]
        columns = lead + sorted(c for c in columns if c not in lead)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns)
        writer.writeheader()
        writer.writerows(self.rows)
        self.folder.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".metrics.csv.{os.getpid()}.tmp")
        temp.write_text(buffer.getvalue())
        os.replace(temp, self.path)


def _epoch(row: dict[str, Any]) -> float:
    try:
        return float(row.get("epoch", "nan"))
    except (TypeError, ValueError):
        return float("nan")
