"""The flag targets of issue 13 measured on a protocol's converged models (every method, all
seeds): far-OOD and corruption AUROC of the default combined score, false alarms on the
in-distribution test set, and failure detection by the predicted Dice."""

from __future__ import annotations

import numpy as np
from _evidence import ci, mean_sd, table

from seguq.benchmark.evidence import Study

FAR_OOD_AUROC, CORRUPTION_AUROC = 0.99, 0.95
FALSE_ALARMS = (0.02, 0.09)


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else "met" if ok else "**not met**"


def _auroc_cell(study: Study, method: str, name: str, target: float) -> str:
    seeds = [e["ood"]["auroc"] for e in study.entries(method, name)]
    interval = study.ood(method, name)["interval"]
    return f"{mean_sd(seeds)} {ci(interval, 3)} {_met(np.mean(seeds) >= target)}"


def flag_target_rows(record: dict) -> list[str]:
    """One row per method: the targets' numbers (mean ± std over seeds, [95% interval]) and
    whether the seed mean meets each."""
    study = Study.of(record)
    far = study.set_names("far_ood")
    corrupt = [n for n in study.set_names("corrupt") if n.endswith("-2")]
    columns = ["method", *(f"{n} ≥ {FAR_OOD_AUROC}" for n in far)]
    columns += [f"{n} ≥ {CORRUPTION_AUROC}" for n in corrupt]
    columns += ["test flagged (2-9%)", "AURC 1 - predicted Dice < AURC uncertainty"]
    rows = []
    for m in study.methods:
        cells = [m]
        cells += [_auroc_cell(study, m, n, FAR_OOD_AUROC) for n in far]
        cells += [_auroc_cell(study, m, n, CORRUPTION_AUROC) for n in corrupt]
        flagged = study.flagged(m, "test")
        low, high = FALSE_ALARMS
        cells.append(
            f"{mean_sd(flagged)} {_met(low <= np.mean(flagged) <= high)}" if flagged else "refused"
        )
        aurc = study.failure_aurc(m)
        predicted, uncertainty = aurc.get("predicted_dice"), aurc.get("uncertainty")
        if predicted and uncertainty:
            better = float(np.mean(predicted)) < float(np.mean(uncertainty))
            cells.append(f"{mean_sd(predicted, 4)} vs {mean_sd(uncertainty, 4)} {_met(better)}")
        else:
            cells.append("n/a")
        rows.append(cells)
    return table(columns, rows)
