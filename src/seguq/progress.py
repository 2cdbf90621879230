"""Progress bars that suit where they are shown: tqdm's live bar on a terminal; on a pipe or a
log file, one plain line per half minute instead of a flood of carriage returns."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
# Seconds between two lines when the output is not a terminal.
LOG_INTERVAL = 30.0


class _Lines:
    """A file for tqdm that turns each redraw into one line."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip()
        if text:
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress(iterable: Iterable[T], desc: str, unit: str, enabled: bool = True, **options):
    """`tqdm(iterable)` for a terminal, or a line-per-interval bar for a pipe or log."""
    stream = sys.stderr
    if not enabled:
        return tqdm(iterable, desc=desc, unit=unit, disable=True, **options)
    if stream.isatty():
        return tqdm(iterable, desc=desc, unit=unit, **options)
    return tqdm(
        iterable,
        desc=desc,
        unit=unit,
        file=_Lines(stream),
        mininterval=LOG_INTERVAL,
        maxinterval=LOG_INTERVAL * 4,
        ncols=100,
        ascii=True,
        **options,
    )
