"""The in-distribution reference for the OOD flag: image scores of held-out in-distribution
cases (the validation cases, or `--calibration-data`), stored in the run at the end of training.

A new case gets a conformal p-value against them, p = (1 + #{reference scores >= its score}) /
(n + 1), and is flagged `ood` when p < alpha: on in-distribution cases exchangeable with the
reference, the false-alarm rate is then at most alpha. With n reference cases the smallest
p-value is 1 / (n + 1), so a flag at alpha needs n >= 1 / alpha - 1.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FILE = "ood_reference.json"
# Below this many reference cases the p-values are coarse: warn.
FEW_CASES = 20


def conformal_p_value(reference: np.ndarray, score: float) -> float:
    """(1 + #{reference >= score}) / (n + 1); ties count against the case (conservative)."""
    reference = np.asarray(reference, dtype=np.float64)
    return float((1 + np.count_nonzero(reference >= score)) / (reference.size + 1))


def cases_needed(alpha: float) -> int:
    """The fewest reference cases for which p < alpha can happen."""
    return max(1, math.ceil(1.0 / alpha - 1.0 - 1e-9))


@dataclass
class OODReference:
    """Image-level uncertainty scores of in-distribution held-out images.

    Attributes:
        scores: one score per reference image (or slice-stacked volume).
        score: how the image score was aggregated ("mean" | "foreground" | "top").
        map: which uncertainty map it aggregates ("total", ...).
        source: where the reference cases came from ("validation cases", a data source).
    """

    scores: list[float]
    score: str
    map: str
    source: str = "validation cases"

    @property
    def size(self) -> int:
        return len(self.scores)

    def p_value(self, value: float) -> float:
        """The conformal p-value of a case's score (small: unlike the reference)."""
        return conformal_p_value(np.asarray(self.scores), value)

    def can_flag(self, alpha: float) -> bool:
        """Whether p < alpha is reachable with this many reference cases."""
        return self.size >= cases_needed(alpha)

    def save(self, run_dir: Path) -> Path:
        path = Path(run_dir) / FILE
        payload = {"score": self.score, "map": self.map, "source": self.source}
        path.write_text(json.dumps({**payload, "scores": self.scores}))
        return path


def load_reference(checkpoint: Path) -> OODReference | None:
    """The reference saved beside a run's checkpoints (run/ood_reference.json), if any."""
    for folder in (checkpoint.parent.parent, checkpoint.parent):
        path = folder / FILE
        if path.is_file():
            raw = json.loads(path.read_text())
            return OODReference(
                scores=[float(s) for s in raw["scores"]],
                score=raw["score"],
                map=raw["map"],
                source=raw.get("source", "validation cases"),
            )
    return None
