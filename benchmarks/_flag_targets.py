"""The flag targets of issue 13 measured on a protocol's converged models (every method, all
seeds): far-OOD, corruption and shifted-site AUROC of the default combined score, false alarms
on the in-distribution test set, and failure detection by the predicted Dice on the test set
and on each shifted site (labelled)."""

from __future__ import annotations

import numpy as np
from _evidence import ci, mean_sd, table

from seguq.benchmark.evidence import Study

FAR_OOD_AUROC, CORRUPTION_AUROC, SHIFTED_AUROC = 0.99, 0.95, 0.95
FALSE_ALARMS = (0.02, 0.09)


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else "met" if ok else "**not met**"


def _auroc_cell(study: Study, method: str, name: str, target: float) -> str:
    seeds = [e["ood"]["auroc"] for e in study.entries(method, name)]
    interval = study.ood(method, name)["interval"]
    return f"{mean_sd(seeds)} {ci(interval, 3)} {_met(np.mean(seeds) >= target)}"


def _failure_cell(study: Study, method: str, set_name: str) -> str:
    aurc = study.failure_aurc(method, set_name)
    predicted, uncertainty = aurc.get("predicted_dice"), aurc.get("uncertainty")
    if not (predicted and uncertainty):
        return "n/a"
    better = float(np.mean(predicted)) < float(np.mean(uncertainty))
    return f"{mean_sd(predicted, 4)} vs {mean_sd(uncertainty, 4)} {_met(better)}"


def flag_target_rows(record: dict) -> list[str]:
    """One row per method: the targets' numbers (mean ± std over seeds, [95% interval]) and
    whether the seed mean meets each."""
    study = Study.of(record)
    far = study.set_names("far_ood")
    corrupt = [n for n in study.set_names("corrupt") if n.endswith("-2")]
    shifted = study.set_names("shifted")
    columns = ["method", *(f"{n} ≥ {FAR_OOD_AUROC}" for n in far)]
    columns += [f"{n} ≥ {CORRUPTION_AUROC}" for n in corrupt]
    columns += [f"{n} ≥ {SHIFTED_AUROC}" for n in shifted]
    columns += ["test flagged (2-9%)"]
    columns += [f"{n}: AURC 1 - predicted Dice < AURC uncertainty" for n in ("test", *shifted)]
    rows = []
    for m in study.methods:
        cells = [m]
        cells += [_auroc_cell(study, m, n, FAR_OOD_AUROC) for n in far]
        cells += [_auroc_cell(study, m, n, CORRUPTION_AUROC) for n in corrupt]
        cells += [_auroc_cell(study, m, n, SHIFTED_AUROC) for n in shifted]
        flagged = study.flagged(m, "test")
        low, high = FALSE_ALARMS
        cells.append(
            f"{mean_sd(flagged)} {_met(low <= np.mean(flagged) <= high)}" if flagged else "refused"
        )
        cells += [_failure_cell(study, m, n) for n in ("test", *shifted)]
        rows.append(cells)
    return table(columns, rows)
