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
from PIL import Image

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


def to_jpeg(figure: Figure, dpi: float, quality: int, max_bytes: int | None = None) -> bytes:
    """The figure as JPEG bytes drawn at `dpi`; when over `max_bytes`, scaled down until it fits
    (at least 30% of its size a side)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    picture = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    data = _jpeg(picture, quality)
    scale = 1.0
    while max_bytes is not None and len(data) > max_bytes and scale > 0.3:
        scale *= max(0.3, min(0.9, math.sqrt(max_bytes / len(data))))
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        data = _jpeg(picture.resize(size, Image.Resampling.LANCZOS), quality)
    return data


def _jpeg(picture: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def to_png(figure: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()
