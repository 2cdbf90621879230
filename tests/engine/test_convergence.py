"""Convergence read back from a training log: where the best validation Dice was, and whether
it had stopped improving (the early-stopping rule)."""

from seguq.engine.convergence import log_convergence, run_convergence
from seguq.engine.metrics_log import MetricsLog


def _rows(dice):
    return [
        {"epoch": str(e), "step": str(10 * e + 9), "val_dice": str(d)} for e, d in enumerate(dice)
    ]


def test_a_run_that_stopped_improving_has_converged():
    result = log_convergence(_rows([0.5, 0.8, 0.9, 0.9005, 0.899, 0.9008]), 3, 0.001)
    assert result["best_epoch"] == 3 and result["best_step"] == 30  # 0.9005 is no improvement
    assert result["epochs"] == 6 and result["steps"] == 60
    assert result["epochs_without_improvement"] == 3 and result["converged"]
    assert result["best_val_dice"] == 0.9008


def test_a_run_still_improving_at_its_cap_has_not():
    result = log_convergence(_rows([0.5, 0.6, 0.7, 0.8]), 3, 0.001)
    assert not result["converged"] and result["epochs_without_improvement"] == 0
    assert not log_convergence(_rows([0.5, 0.5, 0.5, 0.5]), 0, 0.001)["converged"]  # no rule


def test_rows_without_validation_are_skipped(tmp_path):
    assert log_convergence([{"epoch": "0", "step": "9", "train_loss": "1"}], 3, 0.0) is None
    log = MetricsLog(tmp_path / "run" / "logs")
    for epoch, dice in enumerate([0.5, 0.7, 0.7, 0.7]):
        log.log_metrics({"train_loss": 1.0, "epoch": epoch}, step=10 * epoch + 9)
        log.log_metrics({"val_dice": dice, "epoch": epoch}, step=10 * epoch + 9)
    assert run_convergence(tmp_path / "run", 2, 0.001)["converged"]


def test_an_ensemble_converged_when_every_member_did(tmp_path):
    for member, dice in (("member0", [0.5, 0.7, 0.7, 0.7]), ("member1", [0.5, 0.6, 0.7, 0.8])):
        log = MetricsLog(tmp_path / "members" / member / "logs")
        for epoch, value in enumerate(dice):
            log.log_metrics({"val_dice": value, "epoch": epoch}, step=10 * epoch + 9)
    result = run_convergence(tmp_path, 2, 0.001)
    assert not result["converged"] and len(result["members"]) == 2
    assert result["steps"] == 80
