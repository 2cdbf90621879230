import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seguq.errors import SeguqError
from seguq.metrics.calibration import (
    CalibrationAccumulator,
    brier_score,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_diagram,
    temperature_scale,
)


def as_dense(probs_nk: torch.Tensor, labels_n: torch.Tensor, width: int = 1):
    """(N, K), (N,) -> (1, K, N/width, width), (1, N/width, width)."""
    n, k = probs_nk.shape
    probs = probs_nk.T.reshape(1, k, n // width, width)
    return probs, labels_n.reshape(1, n // width, width)


def calibrated_model(n: int, k: int, seed: int, scale: float = 2.0):
    """Logits, probabilities and labels drawn from those probabilities."""
    generator = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(n, k, generator=generator, dtype=torch.float64)
    probs = torch.softmax(logits, dim=1)
    labels = torch.multinomial(probs, 1, generator=generator).squeeze(1)
    return logits, probs, labels


def test_ece_hand_case():
    # class-1 probabilities 0.9, 0.9, 0.6, 0.6 -> all predicted 1.
    # bin [0.9, 1.0): labels 1, 0 -> accuracy 0.5, |0.5 - 0.9| = 0.4, weight 1/2
    # bin [0.6, 0.7): labels 1, 1 -> accuracy 1.0, |1.0 - 0.6| = 0.4, weight 1/2
    p1 = torch.tensor([0.9, 0.9, 0.6, 0.6], dtype=torch.float64)
    probs, labels = as_dense(torch.stack([1 - p1, p1], 1), torch.tensor([1, 0, 1, 1]))
    assert expected_calibration_error(probs, labels, num_bins=10) == pytest.approx(0.4)
    bins = reliability_diagram(probs, labels, num_bins=10)
    assert len(bins) == 10 and sum(b["count"] for b in bins) == 4
    assert bins[9]["count"] == 2 and bins[9]["accuracy"] == pytest.approx(0.5)
    assert bins[9]["confidence"] == pytest.approx(0.9)
    assert bins[6]["accuracy"] == pytest.approx(1.0)
    assert math.isnan(bins[0]["accuracy"])


def test_ece_foreground_region_hand_case():
    # pixels: (p1, label) = (0.2, 0) background-only -> excluded from the foreground region;
    # (0.7, 1) -> conf 0.7, correct; (0.4, 1) -> predicted 0, label 1: conf 0.6, wrong.
    p1 = torch.tensor([0.2, 0.7, 0.4], dtype=torch.float64)
    probs, labels = as_dense(torch.stack([1 - p1, p1], 1), torch.tensor([0, 1, 1]))
    # foreground bins: [0.7,0.8): |1 - 0.7| = 0.3; [0.6,0.7): |0 - 0.6| = 0.6; mean 0.45
    ece_fg = expected_calibration_error(probs, labels, num_bins=10, region="foreground")
    assert ece_fg == pytest.approx(0.45)
    # all pixels add (conf 0.8, correct) in bin [0.8, 0.9): (0.3 + 0.6 + 0.2) / 3
    assert expected_calibration_error(probs, labels, num_bins=10) == pytest.approx(1.1 / 3)
    # predicted foreground: only (0.7, 1): |1 - 0.7|
    ece_pred = expected_calibration_error(probs, labels, num_bins=10, region="predicted")
    assert ece_pred == pytest.approx(0.3)


def test_a_calibrated_model_looks_over_confident_on_pixels_chosen_by_their_label():
    # 10 pixels at p(fg) = 0.3, 3 of them foreground; 10 at 0.8, 8 of them foreground: calibrated.
    p1 = torch.tensor([0.3] * 10 + [0.8] * 10, dtype=torch.float64)
    truth = torch.tensor([1] * 3 + [0] * 7 + [1] * 8 + [0] * 2)
    probs, labels = as_dense(torch.stack([1 - p1, p1], 1), truth)
    assert expected_calibration_error(probs, labels, num_bins=10) == pytest.approx(0.0)
    assert expected_calibration_error(probs, labels, region="predicted") == pytest.approx(0.0)
    # "foreground" keeps the 3 missed pixels (conf 0.7, all wrong) beside the 10 predicted ones
    biased = expected_calibration_error(probs, labels, num_bins=10, region="foreground")
    assert biased == pytest.approx(3 / 13 * 0.7)


def test_brier_and_nll_hand_case():
    probs, labels = as_dense(
        torch.tensor([[0.8, 0.2], [0.5, 0.5]], dtype=torch.float64), torch.tensor([0, 1])
    )
    # (0.04 + 0.04 + 0.25 + 0.25) / 2
    assert brier_score(probs, labels) == pytest.approx(0.29)
    assert negative_log_likelihood(probs, labels) == pytest.approx(
        -(math.log(0.8) + math.log(0.5)) / 2
    )
    zero, label = as_dense(torch.tensor([[1.0, 0.0]]), torch.tensor([1]))
    assert negative_log_likelihood(zero, label) == pytest.approx(-math.log(1e-12))


def test_calibrated_predictor_has_small_ece_and_overconfident_large():
    _, probs, labels = calibrated_model(200_000, 3, seed=0)
    dense, dense_labels = as_dense(probs, labels, width=400)
    assert expected_calibration_error(dense, dense_labels) < 0.01
    sharpened = temperature_scale(dense, 0.3, class_dim=1)
    assert expected_calibration_error(sharpened, dense_labels) > 0.1


def test_accumulator_matches_one_shot_and_is_split_invariant():
    _, probs, labels = calibrated_model(6000, 4, seed=1)
    probs, labels = probs.T.reshape(4, 6, 25, 40).movedim(0, 1), labels.reshape(6, 25, 40)
    accumulator = CalibrationAccumulator(num_bins=15)
    for start in range(0, 6, 2):
        accumulator.update(probs[start : start + 2], labels[start : start + 2])
    result = accumulator.compute()
    assert result["ece"] == pytest.approx(expected_calibration_error(probs, labels))
    assert result["ece_foreground"] == pytest.approx(
        expected_calibration_error(probs, labels, region="foreground")
    )
    assert result["ece_predicted_foreground"] == pytest.approx(
        expected_calibration_error(probs, labels, region="predicted")
    )
    assert result["brier"] == pytest.approx(brier_score(probs, labels))
    assert result["nll"] == pytest.approx(negative_log_likelihood(probs, labels))
    assert result["num_pixels"] == 6000
    assert len(result["reliability"]) == 15
    assert sum(b["count"] for b in result["reliability"]) == 6000
    accumulator.reset()
    assert math.isnan(accumulator.compute()["ece"])


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.integers(0, 10_000), st.integers(2, 5))
def test_ece_is_permutation_invariant(seed, k):
    _, probs, labels = calibrated_model(300, k, seed=seed, scale=1.0)
    order = torch.randperm(300, generator=torch.Generator().manual_seed(seed + 1))
    ece = expected_calibration_error(*as_dense(probs, labels, width=10))
    permuted = expected_calibration_error(*as_dense(probs[order], labels[order], width=30))
    assert ece == pytest.approx(permuted)
    assert 0.0 <= ece <= 1.0


@pytest.mark.parametrize("t0", [2.0, 0.5])
def test_fit_temperature_recovers_known_temperature(t0):
    logits, _, labels = calibrated_model(50_000, 5, seed=2)
    # A model whose logits are the calibrated ones times t0 needs softmax(logits / t0).
    fitted = fit_temperature(logits * t0, labels)
    assert fitted == pytest.approx(t0, rel=0.1)


def test_fit_temperature_dense_input():
    logits, _, labels = calibrated_model(20_000, 3, seed=3)
    dense_logits, dense_labels = as_dense(logits * 3.0, labels, width=100)
    assert fit_temperature(dense_logits, dense_labels) == pytest.approx(3.0, rel=0.1)


def test_temperature_scale_identity_and_errors():
    probs = torch.softmax(torch.randn(2, 1, 3, 4, 4, generator=torch.Generator().manual_seed(0)), 2)
    assert torch.allclose(temperature_scale(probs, 1.0), probs, atol=1e-6)
    with pytest.raises(SeguqError):
        temperature_scale(probs, 0.0)


def test_bad_input_raises():
    probs = torch.full((1, 2, 3, 3), 0.5)
    with pytest.raises(SeguqError, match="labels"):
        brier_score(probs, torch.zeros(1, 3, 4, dtype=torch.long))
    with pytest.raises(SeguqError, match=r"\[0, 1\]"):
        expected_calibration_error(probs, torch.full((1, 3, 3), 2))
    with pytest.raises(SeguqError, match="region"):
        expected_calibration_error(probs, torch.zeros(1, 3, 3, dtype=torch.long), region="fg")
    with pytest.raises(SeguqError, match="num_bins"):
        CalibrationAccumulator(num_bins=0)
    with pytest.raises(SeguqError, match="bounds"):
        fit_temperature(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), bounds=(2.0, 1.0))
