"""Experiment loggers beside the always-written logs/metrics.csv: TensorBoard and MLflow through
Lightning's loggers, imported only when asked for (optional extras)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from seguq.errors import SeguqError

LOGGERS = ("csv", "tensorboard", "mlflow")
_EXTRA = {"tensorboard": "tensorboard", "mlflow": "mlflow"}


def check_loggers(names: list[str]) -> None:
    """Refuse unknown loggers and those whose package is missing, before anything runs.

    Raises:
        SeguqError: naming the logger and the extra to install.
    """
    for name in names:
        if name not in LOGGERS:
            raise SeguqError(f"--logger: unknown '{name}' (known: {', '.join(LOGGERS)})")
        if name != "csv":
            try:
                __import__(_EXTRA[name])
            except ImportError:
                raise SeguqError(
                    f"--logger {name}: the {name} package is not installed "
                    f"(pip install 'seguq[{name}]')"
                ) from None


def extra_loggers(names: list[str], run_dir: Path) -> list[Any]:
    """Lightning loggers for `names` ("csv" is always written and needs none).

    TensorBoard writes to RUN/logs/tensorboard; MLflow to $MLFLOW_TRACKING_URI, else to
    RUN/mlruns, in the experiment "seguq" with the run folder's name as the run name.

    Raises:
        SeguqError: an unknown name, or a logger whose package is not installed.
    """
    check_loggers(names)
    loggers = []
    for name in names:
        if name == "csv":
            continue
        if name == "tensorboard":
            from lightning.pytorch.loggers import TensorBoardLogger

            loggers.append(
                TensorBoardLogger(save_dir=str(run_dir / "logs"), name="tensorboard", version="")
            )
        else:
            from lightning.pytorch.loggers import MLFlowLogger

            uri = os.environ.get("MLFLOW_TRACKING_URI") or (run_dir / "mlruns").absolute().as_uri()
            loggers.append(
                MLFlowLogger(experiment_name="seguq", run_name=run_dir.name, tracking_uri=uri)
            )
    return loggers


def flat(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"train": {"lr": 1e-3}} -> {"train.lr": 1e-3}, lists and dicts as strings."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not prefix:
            out |= flat(value, f"{name}.")
        elif isinstance(value, list | dict | tuple) or value is None:
            out[name] = str(value)
        else:
            out[name] = value
    return out
