"""Run and output folders: refuse to overwrite finished results unless asked."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from seguq.errors import SeguqError


def is_worker_process() -> bool:
    """True inside a DDP worker that Lightning launched (rank > 0): it must not touch the folder."""
    return os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0"


def prepare_output(
    path: Path, *, overwrite: bool, option: str = "--out", resume: bool = False
) -> Path:
    """Create an output folder, refusing one that already holds results.

    Args:
        path: the folder.
        overwrite: replace an existing non-empty folder (its content is removed).
        option: how the user named it, for the message.
        resume: keep and reuse an existing folder.

    Raises:
        SeguqError: the folder exists and is not empty, and neither overwrite nor resume is set;
            or the path is a file.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SeguqError(f"{option} {path}: exists and is not a folder")
    if is_worker_process():
        return path
    if path.is_dir() and any(path.iterdir()) and not resume:
        if not overwrite:
            raise SeguqError(f"{option} {path}: folder exists and is not empty (use --overwrite)")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path
