"""Whether a training run converged, read back from its log: the epochs and steps it ran, where
its best validation Dice was, and whether that Dice had stopped improving.

"Stopped improving" is the early-stopping rule of `seguq train` (Lightning's `EarlyStopping` on
`val_dice` with the run's `patience` and `min_delta`): an epoch improves when its validation Dice
beats the best so far by more than `min_delta`; a run has converged when its last `patience`
epochs did not improve. A run that ended at its epoch cap while still improving has not. An
ensemble's members are separate runs: the ensemble has converged when every member has.
"""

from __future__ import annotations

from pathlib import Path

from seguq.engine.metrics_log import read_metrics


def _float(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN: not logged in that row


def log_convergence(rows: list[dict], patience: int, min_delta: float) -> dict | None:
    """Convergence of one fit from its metrics rows (None when no validation Dice was logged)."""
    validations = [
        (int(float(row["epoch"])), int(float(row["step"])), dice)
        for row in rows
        if (dice := _float(row.get("val_dice"))) is not None and row.get("epoch") not in (None, "")
    ]
    if not validations:
        return None
    best, best_epoch, best_step, waited = float("-inf"), 0, 0, 0
    for epoch, step, dice in validations:
        if dice > best + min_delta:
            best, best_epoch, best_step, waited = dice, epoch, step, 0
        else:
            waited += 1
    last_epoch, last_step, _ = validations[-1]
    return {
        "epochs": last_epoch + 1,
        "steps": last_step + 1,
        "best_epoch": best_epoch + 1,
        "best_step": best_step + 1,
        "best_val_dice": max(d for _, _, d in validations),
        "epochs_without_improvement": waited,
        "converged": patience > 0 and waited >= patience,
    }


def run_convergence(run_dir: Path, patience: int, min_delta: float) -> dict | None:
    """Convergence of a run folder; for an ensemble, of each member and of all together."""
    run_dir = Path(run_dir)
    members = sorted((run_dir / "members").glob("member*/logs/metrics.csv"))
    if not members:
        return log_convergence(read_metrics(run_dir / "logs" / "metrics.csv"), patience, min_delta)
    each = [log_convergence(read_metrics(path), patience, min_delta) for path in members]
    if any(m is None for m in each):
        return None
    return {
        "epochs": sum(m["epochs"] for m in each),
        "steps": sum(m["steps"] for m in each),
        "best_step": max(m["best_step"] for m in each),
        "best_val_dice": sum(m["best_val_dice"] for m in each) / len(each),
        "converged": all(m["converged"] for m in each),
        "members": each,
    }
