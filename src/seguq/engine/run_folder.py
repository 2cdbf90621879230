"""Which process may touch output folders under DDP."""

from __future__ import annotations

import os


def is_worker_process() -> bool:
    """True inside a DDP worker that Lightning launched (rank > 0): it must not touch the folder."""
    return os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0"
