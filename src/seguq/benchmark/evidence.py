"""A benchmark's results.json arranged for paired comparisons: per method, seed and case.

`Study` reads a `seguq benchmark CONFIG` result (its "runs": one per method and seed, each with
per-set case Dice and image scores in case-id order) and gives the intervals the generated pages
print: each method's mean over seeds and cases with its paired-bootstrap interval, its difference
to the baseline (the deterministic U-Net), the OOD AUROC of each set, and ranks where intervals
separate (`seguq.benchmark.intervals`). `lodo_matrix` does the same for a leave-one-domain-out
result.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations

import numpy as np

from seguq.benchmark.intervals import bootstrap_auroc, bootstrap_mean, ranks
from seguq.metrics.risk_coverage import aurc

BASELINE = "deterministic"


def _ordered(methods: list[str]) -> list[str]:
    return sorted(methods, key=lambda m: (m != BASELINE, methods.index(m)))


@dataclass
class Study:
    """One protocol's results: `runs[(method, seed)]`, methods in table order (baseline first)."""

    results: dict
    methods: list[str]
    seeds: list[int]
    runs: dict[tuple[str, int], dict]

    @classmethod
    def of(cls, results: dict) -> Study:
        runs = {(r["method"], int(r["seed"])): r for r in results["runs"]}
        methods = _ordered(list(dict.fromkeys(r["method"] for r in results["runs"])))
        seeds = sorted({s for _, s in runs})
        missing = [(m, s) for m in methods for s in seeds if (m, s) not in runs]
        if missing:
            raise ValueError(f"results lack the runs {missing}: every method needs every seed")
        return cls(results, methods, seeds, runs)

    @property
    def baseline(self) -> str:
        return self.methods[0]

    def set_names(self, *roles: str) -> list[str]:
        sets = self.results["sets"]
        return [n for n, s in sets.items() if not roles or s["role"] in roles]

    def entries(self, method: str, set_name: str) -> list[dict]:
        return [self.runs[(method, s)]["sets"][set_name] for s in self.seeds]

    def case_dice(self, method: str, set_name: str) -> np.ndarray | None:
        """seeds x cases, cases in id order (None when the runs hold no per-case Dice)."""
        per_seed = [e.get("case_dice") for e in self.entries(method, set_name)]
        if not all(per_seed):
            return None
        ids = sorted(per_seed[0])
        return np.array([[d[i] for i in ids] for d in per_seed], dtype=float)

    def per_seed(self, method: str, value) -> list[float]:
        """`value(run)` for each seed's run, None and NaN dropped."""
        out = [value(self.runs[(method, s)]) for s in self.seeds]
        return [float(v) for v in out if v is not None and np.isfinite(v)]

    def dice(self, method: str, set_name: str = "test") -> dict | None:
        """Mean Dice over seeds and cases with its interval; "difference" to the baseline."""
        values = self.case_dice(method, set_name)
        if values is None:
            return None
        out = {"interval": bootstrap_mean(values)}
        if method != self.baseline:
            out["difference"] = bootstrap_mean(values, self.case_dice(self.baseline, set_name))
        return out

    def dice_ranks(self, set_name: str = "test") -> dict[str, int] | None:
        matrices = {m: self.case_dice(m, set_name) for m in self.methods}
        if any(v is None for v in matrices.values()):
            return None
        paired = {
            (a, b): bootstrap_mean(matrices[a], matrices[b], resamples=1000)
            for a, b in permutations(self.methods, 2)
        }
        return ranks(self.methods, paired)

    def ood(
        self, method: str, set_name: str, column: str = "score", resamples: int = 1000
    ) -> dict | None:
        """AUROC of an image score (`column`: the combined "score", or a column of
        scores.csv such as "uncertainty"), `set_name` against the test set, with its interval
        and (for a method other than the baseline) its paired difference to the baseline's;
        None when the runs did not record that column."""

        def values(entry: dict) -> np.ndarray | None:
            if column == "score":
                return np.asarray(entry["scores"], dtype=float)
            found = (entry.get("case_scores") or {}).get(column)
            return None if found is None or None in found else np.asarray(found, dtype=float)

        def scores(m: str) -> tuple[list, list] | None:
            test = [values(e) for e in self.entries(m, "test")]
            other = [values(e) for e in self.entries(m, set_name)]
            return None if any(v is None for v in test + other) else (test, other)

        own, baseline = scores(method), scores(self.baseline)
        if own is None or baseline is None:
            return None
        out = {"interval": bootstrap_auroc(*own, resamples=resamples)}
        if method != self.baseline:
            out["difference"] = bootstrap_auroc(*own, baseline, resamples=resamples)
        return out

    def failure_aurc(self, method: str, set_name: str = "test") -> dict[str, list[float]]:
        """Per seed, the case AURC (risk 1 - Dice) of each case score of the set: the OOD
        `score`, the `uncertainty` score and 1 - `predicted_dice`."""
        out: dict[str, list[float]] = {}
        for entry in self.entries(method, set_name):
            dice = entry.get("case_dice")
            if not dice:
                return {}
            risk = 1.0 - np.array([dice[i] for i in sorted(dice)])
            columns = {"score": entry["scores"], **(entry.get("case_scores") or {})}
            for name, values in columns.items():
                if name in ("p_value", "ood") or values is None or None in values:
                    continue
                values = np.asarray(values, dtype=float)
                if name == "predicted_dice":
                    values = 1.0 - values
                out.setdefault(name, []).append(aurc(values, risk))
        return out

    def flagged(self, method: str, set_name: str) -> list[float]:
        """Per seed, the fraction of the set's cases flagged OOD (seeds with a refused flag
        are left out)."""
        out = []
        for entry in self.entries(method, set_name):
            flags = (entry.get("case_scores") or {}).get("ood")
            if flags and None not in flags:
                out.append(float(np.mean(flags)))
        return out

    def convergence(self, method: str) -> list[dict]:
        return [self.runs[(method, s)].get("convergence") or {} for s in self.seeds]


def lodo_matrix(results: dict, domain: str, method: str) -> np.ndarray | None:
    """seeds x cases Dice of one held-out domain in a leave-one-domain-out result (None when
    it holds no per-case Dice)."""
    per_seed = (results.get("case_dice") or {}).get(domain, {}).get(method)
    if not per_seed:
        return None
    ids = sorted(per_seed[0])
    return np.array([[d[i] for i in ids] for d in per_seed], dtype=float)
