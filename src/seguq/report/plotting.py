"""Matplotlib without pyplot: figures drawn with the Agg canvas and returned as PNG bytes.

`matplotlib.figure.Figure` needs no global backend or state, so reports can be drawn from any
thread or process without touching the caller's matplotlib settings.
"""

from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

DPI = 100
# Colour-blind-friendly line colours (Okabe-Ito), cycled over methods.
LINE_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
# Mask class colours (class 1, 2, ...; background is left transparent).
CLASS_COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6")


def line_colour(index: int) -> str:
    """The colour of the index-th method's line."""
    return LINE_COLOURS[index % len(LINE_COLOURS)]


def class_colour(label: int) -> str:
    """The overlay colour of foreground class `label` (>= 1)."""
    return CLASS_COLOURS[(label - 1) % len(CLASS_COLOURS)]


def panel_figure(
    panels: int, width: float = 4.6, height: float = 4.0, max_columns: int = 3
) -> tuple[Figure, list[Axes]]:
    """A figure with `panels` axes in rows of at most `max_columns`; unused axes hidden."""
    panels = max(1, panels)
    columns = min(panels, max_columns)
    rows = math.ceil(panels / columns)
    figure = Figure(figsize=(width * columns, height * rows), dpi=DPI, layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel().tolist()
    for spare in axes[panels:]:
        spare.set_visible(False)
    return figure, axes[:panels]


def to_png(figure: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()
