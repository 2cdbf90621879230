"""Keeping Lightning's start-up notes (GPU availability, tips, a deprecation warning of its own
internals) off the console of command-line and library users."""

from __future__ import annotations

import logging
import warnings


def quiet_lightning() -> None:
    """Hide Lightning's start-up notes; its warnings and errors still show.

    Lightning sets its loggers' level when it is imported, so it is imported here first.
    """
    import lightning  # noqa: F401

    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
