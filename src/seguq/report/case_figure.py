"""A case figure: image, ground truth, prediction and every uncertainty map on one grid.

Masks are drawn over the image, one colour per foreground class; uncertainty maps are drawn over a
grey copy of the image with a colour scale whose opacity grows with the value, so that confident
regions still show the anatomy. Per-level maps (HUE, PHiSeg) get one row per map, levels side by
side on a shared colour scale.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize, to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from seguq.report.case_view import CaseView
from seguq.report.plotting import DPI, class_colour, to_png

PANEL_INCHES = 2.6
MASK_ALPHA = 0.55
MAP_COLOURS = colormaps["magma"]


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


def _panels(view: CaseView) -> list[list[tuple[str, str, np.ndarray, float]]]:
    """Rows of (title, kind, array, colour-scale top) panels; kind: image | mask | map."""
    first: list[tuple[str, str, np.ndarray, float]] = []
    if view.image is not None:
        first.append(("image", "image", view.image, 1.0))
    if view.truth is not None:
        first.append(("ground truth", "mask", view.truth, 0.0))
    if view.pred is not None:
        first.append(("prediction", "mask", view.pred, 0.0))
    for name, values in view.maps.items():
        first.append((f"{name} uncertainty", "map", values, float(np.nanmax(values))))
    rows = [first] if first else []
    for name, by_level in view.levels.items():
        top = max((float(np.nanmax(v)) for v in by_level.values()), default=0.0)
        rows.append([(f"{level} {name}", "map", v, top) for level, v in by_level.items()])
    return rows


def case_figure(view: CaseView, class_names: list[str], title: str) -> bytes | None:
    """The figure of one case as PNG bytes; None when there is nothing to draw."""
    rows = _panels(view)
    if not rows:
        return None
    columns = max(len(row) for row in rows)
    figure = Figure(
        figsize=(PANEL_INCHES * columns, PANEL_INCHES * len(rows) + 0.6),
        dpi=DPI,
        layout="constrained",
    )
    axes = figure.subplots(len(rows), columns, squeeze=False)
    shape = rows[0][0][2].shape
    grey = _grey(view.image, shape)
    labels: set[int] = set()
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
                labels |= {int(v) for v in np.unique(array) if v > 0}
                ax.imshow(mask_rgba(array), interpolation="nearest")
            else:
                norm = Normalize(0.0, top if top > 0 else 1.0)
                ax.imshow(map_rgba(array, norm), interpolation="nearest")
                mappable = ScalarMappable(norm=norm, cmap=MAP_COLOURS)
                bar = figure.colorbar(mappable, ax=ax, fraction=0.046, pad=0.02)
                bar.set_label(map_quantity(name), fontsize=7)
    if labels:
        handles = [
            Patch(color=class_colour(k), label=class_name(class_names, k)) for k in sorted(labels)
        ]
        figure.legend(handles=handles, loc="outside lower center", ncols=len(handles))
    figure.suptitle(title, fontsize=11)
    return to_png(figure)
