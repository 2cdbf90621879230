"""What a report is made of: tables, figures and notes grouped in sections."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Table:
    """A table of already formatted cells.

    Attributes:
        title: shown above the table.
        columns: header cells.
        rows: body rows, one list of cells each.
        main: the report's main results table (one row per method).
    """

    title: str
    columns: list[str]
    rows: list[list[str]]
    main: bool = False


@dataclass(frozen=True)
class Figure:
    """A figure: embedded in the HTML and saved as `figures/<name>.<ending>`.

    Attributes:
        name: file stem, unique within a report (letters, digits, `_.-`).
        image: the encoded image (PNG, or JPEG for case figures).
        caption: shown under the figure.
        ending: "png" or "jpg", the encoding of `image`.
        zoom: the page shows it fitted to the width; a click shows it at full size.
    """

    name: str
    image: bytes
    caption: str = ""
    ending: str = "png"
    zoom: bool = False

    @property
    def mime(self) -> str:
        """The image's media type."""
        return "image/jpeg" if self.ending == "jpg" else "image/png"


@dataclass(frozen=True)
class Note:
    """A line of text: a skipped piece, or how to read a figure."""

    text: str


@dataclass(frozen=True)
class Heading:
    """A sub-heading inside a section."""

    text: str


Block = Table | Figure | Note | Heading


@dataclass
class Section:
    """A titled part of the report; `grid` lays its figures out side by side."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    grid: bool = False

    def figures(self) -> list[Figure]:
        """The section's figures, in order."""
        return [block for block in self.blocks if isinstance(block, Figure)]


def file_stem(text: str) -> str:
    """`text` reduced to a safe file stem ("det/seed 0" -> "det_seed_0")."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "figure"
