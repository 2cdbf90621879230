"""Checkpoints that hold weights plus the config that rebuilds the method, loaded without
executing pickled code (`torch.load(weights_only=True)`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from seguq.config import RunConfig
from seguq.errors import SeguqError
from seguq.methods import Method, build_method

FORMAT = "seguq-checkpoint-1"


def save_checkpoint(method: Method, path: Path, **info: Any) -> Path:
    """Write {format, config, state_dict, info} atomically to `path`."""
    payload = {
        "format": FORMAT,
        "config": method.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in method.state_dict().items()},
        "info": {k: v for k, v in info.items() if isinstance(v, int | float | str | bool)},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The raw payload of a seguq checkpoint.

    Raises:
        SeguqError: missing, unreadable or not a seguq checkpoint.
    """
    if not path.is_file():
        raise SeguqError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any failure means "not a checkpoint we can read"
        raise SeguqError(
            f"{path}: not a readable seguq checkpoint ({type(error).__name__})"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise SeguqError(f"{path}: not a seguq checkpoint (expected format {FORMAT})")
    return payload


def load_method(path: Path) -> Method:
    """Rebuild the method from a checkpoint's config and load its weights (eval mode)."""
    payload = read_checkpoint(path)
    config = RunConfig.from_dict(payload["config"], origin=str(path))
    method = build_method(config, config.data.in_channels, config.data.num_classes)
    method.load_state_dict(payload["state_dict"])
    return method.eval()


def resolve_model(model: Path) -> Path:
    """A run folder -> its best checkpoint; a checkpoint file -> itself.

    Raises:
        SeguqError: the folder holds no trained model.
    """
    model = Path(model)
    if model.is_dir():
        best = model / "checkpoints" / "best.pt"
        if not best.is_file():
            raise SeguqError(
                f"{model}: no trained model in this run folder (missing checkpoints/best.pt)"
            )
        return best
    if not model.exists():
        raise SeguqError(f"{model}: model not found (expected a run folder or a .pt checkpoint)")
    return model
