"""The in-distribution reference for the OOD flag: the scores of held-out in-distribution
cases (the validation cases, or `--calibration-data`), stored in the run at the end of training.

A case has several OOD components: the uncertainty-map score ("uncertainty") and, where the run
has feature statistics, the Mahalanobis distance of its pooled encoder features at each level
("feature_level<l>"). Each is put on a common scale by the reference cases' robust statistics
of its logarithm, z = (log v - median) / (1.4826 MAD); the combined score is the largest z: a
case unlike the training data in any one respect (foreign anatomy shows in the features, noise
or blur in the uncertainty) scores high. The conformal p-value of the combined score against the
reference's own combined scores, p = (1 + #{reference >= score}) / (n + 1), flags `ood` when
p < alpha: on in-distribution cases exchangeable with the reference, at most alpha are flagged
(the standardisation uses the same reference cases, a small departure from exact
exchangeability). With n reference cases the smallest p-value is 1 / (n + 1), so a flag at alpha
needs n >= 1 / alpha - 1.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seguq.data.io import atomic_write
from seguq.errors import SeguqError

log = logging.getLogger(__name__)

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
    components: dict[str, list[float]] = field(default_factory=dict)

    @classmethod
    def from_components(
        cls, components: dict[str, list[float]], score: str, map_name: str, source: str
    ) -> OODReference:
        """A reference whose scores are the combined scores of its own components."""
        reference = cls([], score, map_name, source, components)
        columns = list(components)
        reference.scores = [
            reference.combine({c: components[c][i] for c in columns})
            for i in range(len(components[columns[0]]))
        ]
        return reference

    @property
    def size(self) -> int:
        return len(self.scores)

    def combine(self, values: dict[str, float]) -> float:
        """The combined score of one case's components (its uncertainty score alone when the
        reference has no components)."""
        if not self.components:
            return float(values["uncertainty"])
        return max(_standardised(values[name], ref) for name, ref in self.components.items())

    def p_value(self, value: float) -> float:
        """The conformal p-value of a case's score (small: unlike the reference)."""
        return conformal_p_value(np.asarray(self.scores), value)

    def can_flag(self, alpha: float) -> bool:
        """Whether p < alpha is reachable with this many reference cases."""
        return self.size >= cases_needed(alpha)

    def save(self, run_dir: Path) -> Path:
        path = Path(run_dir) / FILE
        payload = {"score": self.score, "map": self.map, "source": self.source}
        payload |= {"scores": self.scores, "components": self.components}
        atomic_write(path, lambda tmp: tmp.write_text(json.dumps(payload)))
        return path


def _standardised(value: float, reference: list[float]) -> float:
    """(log v - median log ref) / (1.4826 MAD of log ref), robust to a few odd reference cases."""
    logs = np.log(np.maximum(np.asarray(reference, dtype=np.float64), 1e-12))
    centre = float(np.median(logs))
    spread = 1.4826 * float(np.median(np.abs(logs - centre)))
    spread = max(spread, 1e-6, 0.05 * abs(centre))
    return (math.log(max(float(value), 1e-12)) - centre) / spread


def load_reference(checkpoint: Path) -> OODReference | None:
    """The reference saved beside a run's checkpoints (run/ood_reference.json), if any."""
    for folder in (checkpoint.parent.parent, checkpoint.parent):
        path = folder / FILE
        if path.is_file():
            try:
                raw = json.loads(path.read_text())
                return OODReference(
                    scores=[float(s) for s in raw["scores"]],
                    score=raw["score"],
                    map=raw["map"],
                    source=raw.get("source", "validation cases"),
                    components={
                        k: [float(v) for v in vs] for k, vs in raw.get("components", {}).items()
                    },
                )
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                raise SeguqError(
                    f"{path}: not a readable OOD reference ({type(error).__name__}: {error}); "
                    "predict with --calibration-data SRC to rebuild the flag's reference"
                ) from None
    return None


def flag_possible(
    reference: OODReference | None,
    alpha: float,
    where: Path,
    remedy: str = "give --calibration-data SRC or a larger --ood-alpha",
) -> bool:
    """Whether the flag at `alpha` can be given; says why not (or why it is coarse) once, in a
    line that starts with `where` (the model, or the reference) and ends with `remedy`."""
    if reference is None:
        return False
    if not reference.can_flag(alpha):
        log.warning(
            "%s: the OOD flag at --ood-alpha %g needs at least %d in-distribution reference "
            "cases, there are %d (%s): scores.csv gives p-values, no flag; %s",
            where,
            alpha,
            cases_needed(alpha),
            reference.size,
            reference.source,
            remedy,
        )
        return False
    if reference.size < FEW_CASES:
        log.warning(
            "%s: only %d in-distribution reference cases (%s): p-values come in steps of 1/%d",
            where,
            reference.size,
            reference.source,
            reference.size + 1,
        )
    return True
