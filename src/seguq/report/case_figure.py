"""A case figure: image, ground truth, prediction, its errors and every uncertainty map on one grid.

Masks are drawn over the image, one colour per foreground class; the error map marks false
positives and false negatives in two colours; uncertainty maps are drawn over a grey copy of the
image with a colour scale whose opacity grows with the value, so that confident regions still show
the anatomy. Per-level maps (HUE, PHiSeg) get one row per map, levels side by side on a shared
colour scale, and only the levels that differ (a level whose map correlates >= 0.95 over pixels
with a level already shown adds nothing and is left out, with a note).

Each panel is drawn at the image's own resolution (between 256 and 768 pixels a side), so that the
report can show the figure at full size on a click; a figure over its byte budget is scaled down.
Figures are JPEG (overlays of photographs compress 5-10x better than PNG).
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize, to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from seguq.engine.hierarchy import pixel_correlation
from seguq.report.case_view import CaseView
from seguq.report.plotting import class_colour, to_jpeg

PANEL_INCHES = 2.6
PANEL_PIXELS = (256, 768)  # the least and most pixels a panel side is drawn with
MAX_COLUMNS = 4
MASK_ALPHA = 0.55
MAP_COLOURS = colormaps["magma"]
SAME_LEVEL_CORRELATION = 0.95  # a level map this correlated with a shown one is left out
# Error map colours (Okabe-Ito): false positive, false negative, wrong foreground class.
ERROR_COLOURS = {"false positive": "#E69F00", "false negative": "#0072B2", "wrong class": "#CC79A7"}
JPEG_QUALITY = 88


# The quantity and unit of each kind of map, for its colour bar.
_QUANTITIES = {
    "epistemic": "mutual information (nats)",
    "aleatoric": "expected entropy (nats)",
    "total": "predictive entropy (nats)",
    "variance": "variance of the foreground probability",
    "learned_sigma": "learned logit s.d.",
}


def map_quantity(name: str) -> str:
    """'total uncertainty' or 'level0 total' -> 'predictive entropy (nats)'; the name itself
    for a map of another kind."""
    words = name.split()
    for key, quantity in _QUANTITIES.items():
        if key in words:
            return quantity
    return name


def class_name(class_names: list[str], label: int) -> str:
    """The name of class `label`, or "class k" beyond the known names."""
    return class_names[label] if label < len(class_names) else f"class {label}"


def mask_rgba(labels: np.ndarray) -> np.ndarray:
    """(H, W) class indices -> (H, W, 4) colours; background transparent."""
    rgba = np.zeros((*labels.shape, 4), dtype=np.float32)
    for label in np.unique(labels):
        if label > 0:
            rgba[labels == label] = to_rgba(class_colour(int(label)), MASK_ALPHA)
    return rgba


def error_labels(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(H, W) 0 = right, 1 = false positive (foreground where the truth is background),
    2 = false negative (background where the truth is foreground), 3 = wrong foreground class."""
    errors = np.zeros(pred.shape, dtype=np.uint8)
    errors[(pred > 0) & (truth == 0)] = 1
    errors[(pred == 0) & (truth > 0)] = 2
    errors[(pred > 0) & (truth > 0) & (pred != truth)] = 3
    return errors


def error_rgba(errors: np.ndarray) -> np.ndarray:
    """`error_labels` -> (H, W, 4) colours; right pixels transparent."""
    rgba = np.zeros((*errors.shape, 4), dtype=np.float32)
    for value, colour in enumerate(ERROR_COLOURS.values(), start=1):
        rgba[errors == value] = to_rgba(colour, 0.85)
    return rgba


def distinct_levels(by_level: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], list[str]]:
    """The levels whose maps differ from every level kept before them (pixel correlation below
    SAME_LEVEL_CORRELATION), and a note for each level left out."""
    kept: dict[str, np.ndarray] = {}
    notes = []
    for level, values in by_level.items():
        same = None
        for other, other_values in kept.items():
            r = pixel_correlation(values, other_values)
            if r is None:  # a constant map: the same as another only when equal to it
                r = 1.0 if np.allclose(np.nan_to_num(values), np.nan_to_num(other_values)) else 0.0
            if r >= SAME_LEVEL_CORRELATION:
                same = (other, r)
                break
        if same is None:
            kept[level] = values
        else:
            notes.append(f"{level} not shown: its map correlates {same[1]:.2f} with {same[0]}'s")
    return kept, notes


def map_rgba(values: np.ndarray, norm: Normalize) -> np.ndarray:
    """(H, W) map -> (H, W, 4) colours whose opacity grows from 0.15 to 0.9 with the value."""
    scaled = np.clip(norm(np.nan_to_num(values)), 0.0, 1.0)
    rgba = MAP_COLOURS(scaled)
    rgba[..., 3] = 0.15 + 0.75 * scaled
    return rgba


def _grey(image: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if image is None:
        return np.zeros(shape[:2], dtype=np.float32)
    return image.mean(-1) if image.ndim == 3 else image


Panel = tuple[str, str, np.ndarray, float]  # title, kind (image|mask|errors|map), array, top


def _panels(view: CaseView) -> tuple[list[list[Panel]], list[str]]:
    """Rows of panels (at most MAX_COLUMNS in the first rows, one row per per-level map) and
    notes on the per-level maps left out."""
    first: list[Panel] = []
    if view.image is not None:
        first.append(("image", "image", view.image, 1.0))
    if view.truth is not None:
        first.append(("ground truth", "mask", view.truth, 0.0))
    if view.pred is not None:
        first.append(("prediction", "mask", view.pred, 0.0))
    if view.truth is not None and view.pred is not None:
        first.append(("errors", "errors", error_labels(view.pred, view.truth), 0.0))
    for name, values in view.maps.items():
        title = "feature distance" if name == "feature" else f"{name} uncertainty"
        first.append((title, "map", values, float(np.nanmax(values))))
    rows = [first[i : i + MAX_COLUMNS] for i in range(0, len(first), MAX_COLUMNS)]
    notes: list[str] = []
    for name, by_level in view.levels.items():
        top = max((float(np.nanmax(v)) for v in by_level.values()), default=0.0)
        kept, left_out = distinct_levels(by_level)
        notes += [f"{name}: {note}" for note in left_out]
        if len(kept) < 2:
            notes.append(f"per-level {name} maps not shown: the levels' maps agree")
            continue
        rows.append([(f"{level} {name}", "map", v, top) for level, v in kept.items()])
    return rows, notes


def _legend(figure, masks: set[int], errors: set[int], class_names: list[str]) -> None:
    handles = [
        Patch(color=class_colour(k), label=class_name(class_names, k)) for k in sorted(masks)
    ]
    names = list(ERROR_COLOURS)
    handles += [
        Patch(color=ERROR_COLOURS[names[v - 1]], label=names[v - 1]) for v in sorted(errors)
    ]
    if handles:
        figure.legend(handles=handles, loc="outside lower center", ncols=len(handles))


def case_figure(
    view: CaseView, class_names: list[str], title: str, max_bytes: int | None = None
) -> tuple[bytes, list[str]] | None:
    """The figure of one case as JPEG bytes (at most `max_bytes` when given) and notes on what it
    leaves out; None when there is nothing to draw."""
    rows, notes = _panels(view)
    if not rows:
        return None
    columns = max(len(row) for row in rows)
    shape = rows[0][0][2].shape
    dpi = min(max(shape[1], PANEL_PIXELS[0]), PANEL_PIXELS[1]) / PANEL_INCHES
    figure = Figure(
        figsize=(PANEL_INCHES * columns, PANEL_INCHES * len(rows) + 0.6),
        dpi=dpi,
        layout="constrained",
    )
    axes = figure.subplots(len(rows), columns, squeeze=False)
    grey = _grey(view.image, shape)
    masks: set[int] = set()
    errors: set[int] = set()
    for r, row in enumerate(rows):
        for c in range(columns):
            ax = axes[r][c]
            ax.set_axis_off()
            if c >= len(row):
                continue
            name, kind, array, top = row[c]
            ax.set_title(name, fontsize=9)
            if kind == "image":
                ax.imshow(array, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                continue
            ax.imshow(grey, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            if kind == "mask":
                masks |= {int(v) for v in np.unique(array) if v > 0}
                ax.imshow(mask_rgba(array), interpolation="nearest")
            elif kind == "errors":
                errors |= {int(v) for v in np.unique(array) if v > 0}
                ax.imshow(error_rgba(array), interpolation="nearest")
            else:
                norm = Normalize(0.0, top if top > 0 else 1.0)
                ax.imshow(map_rgba(array, norm), interpolation="nearest")
                mappable = ScalarMappable(norm=norm, cmap=MAP_COLOURS)
                bar = figure.colorbar(mappable, ax=ax, fraction=0.046, pad=0.02)
                bar.set_label(map_quantity(name), fontsize=7)
    _legend(figure, masks, errors, class_names)
    figure.suptitle(title, fontsize=11)
    return to_jpeg(figure, dpi, JPEG_QUALITY, max_bytes), notes
