import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import rankdata

from seguq.errors import SeguqError
from seguq.metrics.error_detection import (
    ErrorDetectionAccumulator,
    average_precision,
    binary_auroc,
    uncertainty_error_overlap,
)
from seguq.metrics.risk_coverage import (
    aurc,
    e_aurc,
    filtered_dice_auc,
    filtered_dice_curve,
    optimal_aurc,
)


def rank_auroc(scores, labels):
    """Textbook Mann-Whitney formula with average ranks, as a reference."""
    labels = np.asarray(labels, bool)
    ranks = rankdata(scores)
    n_pos, n_neg = labels.sum(), (~labels).sum()
    return (ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def test_degenerate_rankings():
    labels = [0, 0, 0, 1, 1]
    perfect = [0.1, 0.2, 0.3, 0.8, 0.9]
    assert binary_auroc(perfect, labels) == 1.0
    assert average_precision(perfect, labels) == 1.0
    assert binary_auroc([0.5] * 5, labels) == 0.5
    assert average_precision([0.5] * 5, labels) == pytest.approx(0.4)  # positive rate
    assert binary_auroc([-s for s in perfect], labels) == 0.0
    assert math.isnan(binary_auroc(perfect, [1] * 5))
    assert math.isnan(binary_auroc(perfect, [0] * 5))
    assert math.isnan(average_precision(perfect, [0] * 5))
    assert math.isnan(binary_auroc([], []))


def test_hand_case_auroc_and_average_precision():
    scores, labels = [0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]
    # pairs (pos, neg): 0.35>0.1, 0.35<0.4, 0.8>0.1, 0.8>0.4 -> 3/4
    assert binary_auroc(scores, labels) == pytest.approx(0.75)
    # thresholds 0.8: P=1 R=.5; 0.4: -; 0.35: P=2/3 R=1 -> .5*1 + .5*2/3
    assert average_precision(scores, labels) == pytest.approx(0.5 + 1 / 3)


def test_ties_match_average_rank_formula():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, 200).astype(float)  # many ties
    labels = rng.random(200) < 0.3
    assert binary_auroc(scores, labels) == pytest.approx(rank_auroc(scores, labels))
    # tied pos/neg pair counts one half: scores (1, 1), labels (1, 0)
    assert binary_auroc([1.0, 1.0], [1, 0]) == 0.5
    # tied scores enter AP together: precision at the only threshold is 1/2
    assert average_precision([1.0, 1.0], [1, 0]) == 0.5


def test_integer_weights_equal_repetition():
    scores = np.array([0.2, 0.5, 0.5, 0.9, 0.1])
    labels = np.array([0, 1, 0, 1, 0])
    weights = np.array([1, 3, 2, 1, 2])
    rep_scores, rep_labels = np.repeat(scores, weights), np.repeat(labels, weights)
    assert binary_auroc(scores, labels, weights) == pytest.approx(
        binary_auroc(rep_scores, rep_labels)
    )
    assert average_precision(scores, labels, weights) == pytest.approx(
        average_precision(rep_scores, rep_labels)
    )
    assert uncertainty_error_overlap(scores, labels, weights) == pytest.approx(
        uncertainty_error_overlap(rep_scores, rep_labels)
    )


unique_scores = arrays(np.float64, st.integers(2, 40), elements=st.floats(-10, 10), unique=True)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(unique_scores, st.integers(0, 2**32 - 1))
def test_auroc_properties(scores, seed):
    rng = np.random.default_rng(seed)
    labels = rng.random(scores.size) < 0.5
    assume(0 < labels.sum() < labels.size)
    auroc = binary_auroc(scores, labels)
    assert 0.0 <= auroc <= 1.0
    assert auroc + binary_auroc(-scores, labels) == pytest.approx(1.0)
    assert auroc == pytest.approx(rank_auroc(scores, labels))
    order = rng.permutation(scores.size)
    assert binary_auroc(scores[order], labels[order]) == pytest.approx(auroc)
    assert 0.0 <= average_precision(scores, labels) <= 1.0


def test_ueo_hand_cases():
    # t = 0.9: Dice({0}, {0,1}) = 2/3; t = 0.5: Dice({0,1,2}, {0,1}) = 4/5; t = 0.1: 4/6
    assert uncertainty_error_overlap([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]) == pytest.approx(0.8)
    assert uncertainty_error_overlap([0.9, 0.8, 0.1, 0.1], [1, 0, 0, 0]) == pytest.approx(1.0)
    assert math.isnan(uncertainty_error_overlap([0.3, 0.2], [0, 0]))


def test_accumulator_exact_when_cases_fit():
    rng = np.random.default_rng(1)
    uncertainty = torch.from_numpy(rng.random((4, 8, 8)))
    errors = torch.from_numpy(rng.random((4, 8, 8)) < uncertainty.numpy() * 0.6)
    accumulator = ErrorDetectionAccumulator(max_pixels_per_case=64)
    accumulator.update(uncertainty[:3], errors[:3])
    accumulator.update(uncertainty[3:], errors[3:])
    result = accumulator.compute()
    flat_u, flat_e = uncertainty.float().numpy().ravel(), errors.numpy().ravel()
    assert result["auroc"] == pytest.approx(binary_auroc(flat_u, flat_e))
    assert result["aupr"] == pytest.approx(average_precision(flat_u, flat_e))
    assert result["ueo"] == pytest.approx(uncertainty_error_overlap(flat_u, flat_e))
    assert result["error_rate"] == pytest.approx(flat_e.mean())
    assert (result["num_cases"], result["num_pixels"], result["num_sampled"]) == (4, 256, 256)


def test_accumulator_subsample_is_seeded_and_close_to_exact():
    rng = np.random.default_rng(2)
    # cases of different sizes: the weights keep the pooled estimate unbiased
    cases = []
    for size in (40, 120, 80):
        u = rng.random((1, size, size))
        cases.append((torch.from_numpy(u), torch.from_numpy(rng.random(u.shape) < u**2)))
    exact_u = np.concatenate([u.float().numpy().ravel() for u, _ in cases])
    exact_e = np.concatenate([e.numpy().ravel() for _, e in cases])

    def run(seed):
        accumulator = ErrorDetectionAccumulator(max_pixels_per_case=2000, seed=seed)
        for u, e in cases:
            accumulator.update(u, e)
        return accumulator.compute()

    first, again = run(0), run(0)
    assert first == again
    assert first["num_sampled"] == 1600 + 2000 + 2000
    assert first["auroc"] == pytest.approx(binary_auroc(exact_u, exact_e), abs=0.02)
    assert first["error_rate"] == pytest.approx(exact_e.mean(), abs=0.02)
    assert math.isnan(ErrorDetectionAccumulator().compute()["auroc"])


def test_accumulator_bad_input():
    with pytest.raises(SeguqError):
        ErrorDetectionAccumulator(max_pixels_per_case=0)
    with pytest.raises(SeguqError, match="same shape"):
        ErrorDetectionAccumulator().update(torch.zeros(1, 4, 4), torch.zeros(1, 4, 5, dtype=bool))
    with pytest.raises(SeguqError, match="NaN"):
        ErrorDetectionAccumulator().update(
            torch.full((1, 2), math.nan), torch.zeros(1, 2, dtype=bool)
        )


# image level


def test_aurc_hand_cases():
    risk = [0.0, 1.0]
    # confident-first order (0, 1): selective risks 0, 1/2 -> 0.25
    assert aurc([0.1, 0.9], risk) == pytest.approx(0.25)
    assert optimal_aurc(risk) == pytest.approx(0.25)
    assert e_aurc([0.1, 0.9], risk) == pytest.approx(0.0)
    # reversed: 1, 1/2 -> 0.75
    assert aurc([0.9, 0.1], risk) == pytest.approx(0.75)
    assert e_aurc([0.9, 0.1], risk) == pytest.approx(0.5)
    # tied uncertainty: expected over both orders -> 0.5
    assert aurc([0.5, 0.5], risk) == pytest.approx(0.5)


def test_perfect_ranking_reaches_optimal_aurc():
    rng = np.random.default_rng(3)
    dice = rng.random(50)
    risk = 1.0 - dice
    uncertainty = 2.0 * risk + 1.0  # monotone in the risk
    assert aurc(uncertainty, risk) == pytest.approx(optimal_aurc(risk))
    assert e_aurc(uncertainty, risk) == pytest.approx(0.0, abs=1e-12)
    assert e_aurc(rng.random(50), risk) > 0.0


def test_filtered_dice_curve_and_auc_by_hand():
    dice = [0.9, 0.8, 0.5, 0.1]
    uncertainty = [1.0, 2.0, 3.0, 4.0]
    fractions, mean_dice = filtered_dice_curve(uncertainty, dice, fractions=[1.0, 0.5, 0.25])
    np.testing.assert_allclose(mean_dice, [0.575, 0.85, 0.9])
    # trapezoids over 0.25..0.5 and 0.5..1.0
    expected = 0.25 * (0.9 + 0.85) / 2 + 0.5 * (0.85 + 0.575) / 2
    auc = filtered_dice_auc(uncertainty, dice, fractions=[1.0, 0.5, 0.25])
    assert auc == pytest.approx(expected)
    # default fractions 1.0 .. 0.1: a constant Dice of 1 gives 0.9
    fractions, curve = filtered_dice_curve(np.arange(10.0), np.ones(10))
    assert fractions[0] == 1.0 and fractions[-1] == pytest.approx(0.1)
    np.testing.assert_allclose(curve, 1.0)
    assert filtered_dice_auc(np.arange(10.0), np.ones(10)) == pytest.approx(0.9)


def test_image_level_bad_input():
    with pytest.raises(SeguqError):
        aurc([0.1, 0.2], [0.5])
    with pytest.raises(SeguqError):
        aurc([], [])
    with pytest.raises(SeguqError, match="NaN"):
        e_aurc([0.1, math.nan], [0.1, 0.2])
    with pytest.raises(SeguqError, match="fractions"):
        filtered_dice_curve([0.1, 0.2], [0.5, 0.6], fractions=[1.0, 0.0])
