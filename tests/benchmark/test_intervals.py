"""The paired bootstrap over cases and seeds behind the benchmark tables, on hand cases."""

import numpy as np
import pytest

from seguq.benchmark.intervals import (
    auroc,
    bootstrap_auroc,
    bootstrap_mean,
    differs,
    ranks,
    verdict,
)
from seguq.metrics.error_detection import binary_auroc


def test_auroc_counts_ties_as_half_and_equals_the_metric_suites():
    assert auroc([0.1, 0.2], [0.3, 0.4]) == 1.0
    assert auroc([0.3, 0.4], [0.1, 0.2]) == 0.0
    assert auroc([0.5, 0.5], [0.5, 0.5]) == 0.5
    rng = np.random.default_rng(0)
    neg, pos = rng.integers(0, 5, 40).astype(float), rng.integers(1, 6, 30).astype(float)
    expected = binary_auroc(np.r_[neg, pos], np.r_[np.zeros(40), np.ones(30)])
    assert auroc(neg, pos) == pytest.approx(expected)


def test_a_constant_difference_has_a_zero_width_interval():
    base = np.random.default_rng(1).uniform(0.6, 0.9, size=(3, 50))
    interval = bootstrap_mean(base + 0.02, base)
    assert interval["estimate"] == pytest.approx(0.02)
    assert interval["low"] == pytest.approx(0.02) and interval["high"] == pytest.approx(0.02)
    assert differs(interval)


def test_pairing_cancels_what_the_cases_share():
    rng = np.random.default_rng(2)
    case_effect = rng.uniform(0.2, 0.95, size=60)  # easy and hard cases, shared by both methods
    base = case_effect + rng.normal(0, 0.002, size=(3, 60))
    better = case_effect + 0.01 + rng.normal(0, 0.002, size=(3, 60))
    paired = bootstrap_mean(better, base)
    assert differs(paired) and 0.009 < paired["low"] < paired["estimate"] < paired["high"] < 0.011
    alone, other = bootstrap_mean(better), bootstrap_mean(base)
    assert alone["low"] < other["high"]  # unpaired, the two means' intervals overlap


def test_the_interval_covers_the_mean_and_widens_with_fewer_cases():
    rng = np.random.default_rng(3)
    many = bootstrap_mean(rng.normal(0.8, 0.1, size=(3, 400)))
    few = bootstrap_mean(rng.normal(0.8, 0.1, size=(3, 20)))
    assert many["low"] < 0.8 < many["high"]
    assert few["high"] - few["low"] > 2 * (many["high"] - many["low"])


def test_seed_spread_widens_the_interval():
    rng = np.random.default_rng(4)
    cases = rng.normal(0.8, 0.05, size=100)
    steady = bootstrap_mean(np.stack([cases, cases, cases]))
    shaky = bootstrap_mean(np.stack([cases - 0.05, cases, cases + 0.05]))
    assert shaky["high"] - shaky["low"] > 2 * (steady["high"] - steady["low"])


def test_paired_arrays_must_match():
    with pytest.raises(ValueError, match="shape"):
        bootstrap_mean(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="seeds, cases"):
        bootstrap_mean(np.zeros(4))


def test_bootstrap_auroc_of_separated_and_identical_scores():
    neg = [np.linspace(0, 1, 30)] * 3
    pos = [np.linspace(2, 3, 10)] * 3
    perfect = bootstrap_auroc(neg, pos, resamples=200)
    assert perfect["estimate"] == perfect["low"] == perfect["high"] == 1.0
    same = bootstrap_auroc(neg, pos, (neg, pos), resamples=200)
    assert same["low"] == same["high"] == 0.0 and not differs(same)
    rng = np.random.default_rng(5)
    noisy_pos = [rng.normal(0.5, 0.3, 10) for _ in range(3)]
    worse = bootstrap_auroc(neg, noisy_pos, (neg, pos), resamples=300)
    assert worse["high"] < 0 and differs(worse)


def test_ranks_share_a_place_where_intervals_overlap():
    def diff(low, high):
        return {"low": low, "high": high}

    paired = {
        ("a", "b"): diff(0.01, 0.03), ("b", "a"): diff(-0.03, -0.01),
        ("a", "c"): diff(0.02, 0.04), ("c", "a"): diff(-0.04, -0.02),
        ("b", "c"): diff(-0.01, 0.02), ("c", "b"): diff(-0.02, 0.01),
    }  # fmt: skip
    assert ranks(["a", "b", "c"], paired) == {"a": 1, "b": 2, "c": 2}


def test_verdicts_follow_the_interval():
    assert verdict({"low": 0.01, "high": 0.03}) == "holds"
    assert verdict({"low": -0.03, "high": -0.01}) == "does not hold"
    assert verdict({"low": -0.01, "high": 0.03}) == "inconclusive"
    # non-inferiority: holds above -0.01, fails below it
    assert verdict({"low": -0.008, "high": 0.002}, better_than=-0.01) == "holds"
    assert verdict({"low": -0.03, "high": -0.012}, better_than=-0.01) == "does not hold"
