"""The in-distribution reference for the OOD flag: image scores of the validation cases, stored in
the run at the end of training; a new image is flagged when its score exceeds a percentile of
them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FILE = "ood_reference.json"


@dataclass
class OODReference:
    """Image-level uncertainty scores of in-distribution validation images.

    Attributes:
        scores: one score per validation image (or slice-stacked volume).
        score: how the image score was aggregated ("mean" | "foreground" | "top").
        map: which uncertainty map it aggregates ("total", ...).
    """

    scores: list[float]
    score: str
    map: str

    def threshold(self, percentile: float) -> float:
        """The score at `percentile` (0..100) of the reference scores."""
        return float(np.percentile(self.scores, percentile))

    def percentile_of(self, value: float) -> float:
        """Percentage of reference scores strictly below `value` (0..100)."""
        scores = np.asarray(self.scores)
        return float(100.0 * (scores < value).mean())

    def save(self, run_dir: Path) -> Path:
        path = run_dir / FILE
        path.write_text(json.dumps({"score": self.score, "map": self.map, "scores": self.scores}))
        return path


def load_reference(checkpoint: Path) -> OODReference | None:
    """The reference saved beside a run's checkpoints (run/ood_reference.json), if any."""
    for folder in (checkpoint.parent.parent, checkpoint.parent):
        path = folder / FILE
        if path.is_file():
            raw = json.loads(path.read_text())
            return OODReference(
                scores=[float(s) for s in raw["scores"]], score=raw["score"], map=raw["map"]
            )
    return None
