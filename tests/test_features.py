"""Feature statistics (Ledoit-Wolf, Mahalanobis), fitted and reloaded; the combined OOD score."""

from __future__ import annotations

import numpy as np
import pytest

from seguq.engine.ood_reference import OODReference
from seguq.features import FeatureReference, ledoit_wolf, mahalanobis


def test_ledoit_wolf_on_hand_cases():
    rng = np.random.default_rng(0)
    many = rng.normal(size=(5000, 3)) * [1.0, 2.0, 3.0]
    mean, covariance, shrinkage = ledoit_wolf(many)
    assert np.allclose(mean, 0, atol=0.1) and shrinkage < 0.05
    assert np.allclose(np.diag(covariance), [1, 4, 9], rtol=0.1)
    few = rng.normal(size=(4, 50))  # fewer cases than dimensions: still invertible
    _, covariance, shrinkage = ledoit_wolf(few)
    assert shrinkage > 0.3 and np.linalg.cond(covariance) < 1e6


def test_mahalanobis_on_a_hand_case():
    mean, precision = np.zeros(2), np.diag([1.0, 0.25])  # variances 1 and 4
    assert mahalanobis(np.array([3.0, 0.0]), mean, precision) == pytest.approx(3.0)
    assert mahalanobis(np.array([0.0, 4.0]), mean, precision) == pytest.approx(2.0)


def test_fitted_statistics_reload_and_rank_outliers(tmp_path):
    rng = np.random.default_rng(1)
    cases = [[rng.normal(size=4), rng.normal(size=8)] for _ in range(30)]
    reference = FeatureReference.fit(cases)
    reference.save(tmp_path)
    again = FeatureReference.load(tmp_path)
    inlier, outlier = cases[0], [np.full(4, 6.0), np.full(8, 6.0)]
    assert again.cases == 30 and again.distances(inlier) == pytest.approx(
        reference.distances(inlier)
    )
    assert min(again.distances(outlier)) > max(again.distances(inlier))
    assert FeatureReference.load(tmp_path / "none") is None


def test_the_combined_score_takes_the_most_unusual_component():
    rng = np.random.default_rng(2)
    components = {
        "uncertainty": list(rng.uniform(0.9, 1.1, 40)),
        "feature_level0": list(rng.uniform(4.0, 6.0, 40)),
    }
    reference = OODReference.from_components(components, "foreground", "total", "validation cases")
    assert reference.size == 40
    typical = reference.combine({"uncertainty": 1.0, "feature_level0": 5.0})
    far_features = reference.combine({"uncertainty": 1.0, "feature_level0": 60.0})
    far_uncertainty = reference.combine({"uncertainty": 5.0, "feature_level0": 5.0})
    assert far_features > typical and far_uncertainty > typical
    assert reference.p_value(far_features) == pytest.approx(1 / 41)
    assert reference.p_value(typical) > 0.2
