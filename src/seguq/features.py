"""Feature-space OOD: how far a case's pooled encoder features lie from the training cases'.

Per resolution level l, the training cases' globally averaged features f_l (C_l numbers) are
summarised by their mean and a Ledoit-Wolf shrunk covariance; a new case's distance is the
Mahalanobis distance sqrt((f_l - mu_l)^T Sigma_l^-1 (f_l - mu_l)). Shrinkage keeps Sigma_l
invertible when there are fewer training cases than channels (the usual case at deep levels).
The statistics are stored as plain arrays (`feature_reference.npz`, read without pickles).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seguq.errors import SeguqError

FILE = "feature_reference.npz"


def ledoit_wolf(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean and Ledoit-Wolf shrunk covariance of (N, D) samples, towards a scaled identity.

    Returns:
        (mean (D,), covariance (D, D), shrinkage in [0, 1]).
    """
    x = np.asarray(samples, dtype=np.float64)
    n, d = x.shape
    mean = x.mean(axis=0)
    centred = x - mean
    sample = centred.T @ centred / n
    target = np.trace(sample) / d
    if n < 2:
        return mean, np.eye(d) * max(target, 1e-12), 1.0
    # Ledoit & Wolf (2004): the optimal weight of the identity target.
    deviation = np.sum((sample - target * np.eye(d)) ** 2)
    spread = sum(np.sum((np.outer(row, row) - sample) ** 2) for row in centred) / n**2
    shrinkage = float(min(1.0, spread / deviation)) if deviation > 0 else 1.0
    covariance = shrinkage * target * np.eye(d) + (1 - shrinkage) * sample
    covariance += np.eye(d) * 1e-9 * max(target, 1e-12)
    return mean, covariance, shrinkage


def mahalanobis(feature: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> float:
    """sqrt((f - mu)^T P (f - mu)) for a (D,) feature."""
    diff = np.asarray(feature, dtype=np.float64) - mean
    return float(np.sqrt(max(diff @ precision @ diff, 0.0)))


@dataclass
class FeatureReference:
    """Per level, the mean and precision of the training cases' pooled encoder features.

    Attributes:
        means: per level (C_l,).
        precisions: per level (C_l, C_l), the inverse shrunk covariance.
        cases: how many training cases were pooled.
    """

    means: list[np.ndarray]
    precisions: list[np.ndarray]
    cases: int

    @property
    def levels(self) -> int:
        return len(self.means)

    @classmethod
    def fit(cls, features: list[list[np.ndarray]]) -> FeatureReference:
        """From per case the pooled features per level ([case][level] -> (C_l,)).

        Raises:
            SeguqError: no cases.
        """
        if not features:
            raise SeguqError("feature reference: no training cases to fit")
        means, precisions = [], []
        for level in range(len(features[0])):
            stacked = np.stack([case[level] for case in features])
            mean, covariance, _ = ledoit_wolf(stacked)
            means.append(mean)
            precisions.append(np.linalg.inv(covariance))
        return cls(means, precisions, len(features))

    def distances(self, pooled: list[np.ndarray]) -> list[float]:
        """The Mahalanobis distance of one case's pooled features at each level."""
        return [
            mahalanobis(f, m, p)
            for f, m, p in zip(pooled, self.means, self.precisions, strict=True)
        ]

    def save(self, run_dir: Path) -> Path:
        path = Path(run_dir) / FILE
        arrays = {f"mean{i}": m for i, m in enumerate(self.means)}
        arrays |= {f"precision{i}": p for i, p in enumerate(self.precisions)}
        temp = path.with_name(f".{FILE}.{os.getpid()}.tmp.npz")
        np.savez(temp, cases=np.array(self.cases), **arrays)
        os.replace(temp, path)
        return path

    @classmethod
    def load(cls, run_dir: Path) -> FeatureReference | None:
        """The reference saved in a run folder; None when it has none.

        Raises:
            SeguqError: the file is unreadable.
        """
        path = Path(run_dir) / FILE
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                levels = sum(1 for key in data.files if key.startswith("mean"))
                means = [data[f"mean{i}"] for i in range(levels)]
                precisions = [data[f"precision{i}"] for i in range(levels)]
                cases = int(data["cases"])
        except (OSError, ValueError, KeyError) as error:
            raise SeguqError(f"{path}: unreadable feature reference ({error})") from None
        return cls(means, precisions, cases)
