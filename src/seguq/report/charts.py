"""The report's summary charts, one panel per set and one line per method, as PNG bytes.

- reliability diagrams: accuracy against confidence per calibration bin, with the diagonal;
- OOD ROC curves: in-distribution (test) image scores against an OOD set's, AUROC in the legend;
- retention curves: Dice of the cases kept when the most uncertain are referred.

Every function takes `{panel title: {method: data}}` and returns PNG bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from seguq.metrics.ood import ood_scores
from seguq.report.plotting import line_colour, panel_figure, to_png

Panels = dict[str, dict[str, Any]]


def _legend(ax, title: str, loc: str = "best") -> None:
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc=loc, fontsize="small")


def reliability_points(bins: Sequence[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(confidence, accuracy, count) of the bins that hold pixels."""
    kept = [
        (b["confidence"], b["accuracy"], b.get("count") or 0)
        for b in bins
        if isinstance(b.get("confidence"), int | float)
        and isinstance(b.get("accuracy"), int | float)
        and math.isfinite(b["confidence"])
        and math.isfinite(b["accuracy"])
        and (b.get("count") is None or b["count"] > 0)
    ]
    if not kept:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    confidence, accuracy, count = (np.asarray(v, dtype=float) for v in zip(*kept, strict=True))
    return confidence, accuracy, count


def _bars(ax, bins: Sequence[dict]) -> None:
    """Each bin's accuracy as a bar over its confidence range."""
    rows = [b for b in bins if "bin_lower" in b and "bin_upper" in b]
    lows = [b["bin_lower"] for b in rows]
    widths = [b["bin_upper"] - b["bin_lower"] for b in rows]
    heights = [b.get("accuracy") or 0.0 for b in rows]
    ax.bar(lows, heights, width=widths, align="edge", alpha=0.2, color="grey", edgecolor="grey")


def reliability_figure(panels: Panels) -> bytes:
    """Reliability diagrams: `{set: {method: [bin dict with confidence, accuracy, count]}}`.

    With a single method the bins' accuracies are also drawn as bars over their confidence range.
    """
    figure, axes = panel_figure(len(panels))
    for ax, (title, methods) in zip(axes, panels.items(), strict=True):
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
        for index, (method, bins) in enumerate(methods.items()):
            confidence, accuracy, _ = reliability_points(bins)
            if len(methods) == 1:
                _bars(ax, bins)
            ax.plot(confidence, accuracy, marker="o", ms=4, color=line_colour(index), label=method)
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="confidence", ylabel="accuracy")
        _legend(ax, title)
    return to_png(figure)


def roc_curve(in_scores: Sequence[float], out_scores: Sequence[float]) -> tuple[np.ndarray, ...]:
    """(false-positive rate, true-positive rate) of flagging by score, OOD positive.

    Thresholds run over every distinct score from the highest down; the curve starts at (0, 0)
    and ends at (1, 1).
    """
    inside, outside = np.asarray(in_scores, float), np.asarray(out_scores, float)
    thresholds = np.unique(np.concatenate([inside, outside]))[::-1]
    fpr = [0.0] + [float(np.mean(inside >= t)) if inside.size else 0.0 for t in thresholds]
    tpr = [0.0] + [float(np.mean(outside >= t)) if outside.size else 0.0 for t in thresholds]
    return np.asarray(fpr), np.asarray(tpr)


def roc_figure(panels: Panels) -> bytes:
    """OOD ROC curves: `{OOD set: {method: (in-distribution scores, OOD scores)}}`."""
    figure, axes = panel_figure(len(panels))
    for ax, (title, methods) in zip(axes, panels.items(), strict=True):
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
        for index, (method, pair) in enumerate(methods.items()):
            inside, outside = pair
            fpr, tpr = roc_curve(inside, outside)
            auroc = ood_scores(inside, outside)["auroc"]
            label = f"{method} (AUROC {auroc:.3f})"
            ax.plot(fpr, tpr, drawstyle="steps-post", color=line_colour(index), label=label)
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="false-positive rate (test set)")
        ax.set_ylabel("true-positive rate (OOD set)")
        _legend(ax, title, "lower right")
    return to_png(figure)


def retention_figure(panels: Panels) -> bytes:
    """Dice against the fraction of cases kept: `{set: {method: {"retained", "dice"}}}`."""
    figure, axes = panel_figure(len(panels))
    for ax, (title, methods) in zip(axes, panels.items(), strict=True):
        for index, (method, curve) in enumerate(methods.items()):
            retained = np.asarray(curve["retained"], float)
            dice = np.asarray([np.nan if d is None else d for d in curve["dice"]], float)
            ax.plot(retained, dice, marker="o", ms=4, color=line_colour(index), label=method)
        ax.set(xlim=(1.02, 0), xlabel="fraction of cases retained (most uncertain referred)")
        ax.set_ylabel("mean Dice of retained cases")
        _legend(ax, title)
    return to_png(figure)
