"""Per-pixel feature distances (`seguq.feature_maps`): hand cases, strides and crops, padding
left out of the fit, fitted statistics reloaded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seguq.errors import SeguqError
from seguq.feature_maps import (
    FeatureMapReference,
    level_strides,
    sample_positions,
    valid_extent,
)


def _reference(levels: int = 1) -> FeatureMapReference:
    """Mean 0, variances 1 and 4 (precision diag(1, 1/4)), typical distance 1, per level."""
    return FeatureMapReference(
        [np.zeros(2)] * levels, [np.diag([1.0, 0.25])] * levels, [1.0] * levels, [10] * levels
    )


def test_the_map_is_the_mahalanobis_distance_at_each_position():
    features = torch.zeros(1, 2, 2, 2)
    features[0, :, 0, 0] = torch.tensor([3.0, 0.0])  # 3 standard deviations along axis 0
    features[0, :, 1, 1] = torch.tensor([0.0, 4.0])  # 2 along axis 1 (sd 2)
    distances = _reference().distance_map([features], (2, 2))
    assert distances.shape == (1, 2, 2)
    assert distances[0].flatten().tolist() == pytest.approx([3.0, 0.0, 0.0, 2.0])
    halved = FeatureMapReference([np.zeros(2)], [np.diag([1.0, 0.25])], [2.0], [10])
    assert halved.distance_map([features], (2, 2))[0, 0, 0] == pytest.approx(1.5)


def test_levels_are_upsampled_cropped_and_averaged():
    fine, coarse = torch.zeros(1, 2, 8, 8), torch.zeros(1, 2, 4, 4)
    coarse[0, 0] = 2.0  # every coarse position at distance 2, every fine one at 0
    distances = _reference(2).distance_map([fine, coarse], (7, 6))  # the net padded 7x6 to 8x8
    assert distances.shape == (1, 7, 6)
    assert torch.allclose(distances, torch.full((1, 7, 6), 1.0))
    volume = [torch.zeros(1, 2, 8, 8, 8), torch.zeros(1, 2, 4, 4, 4)]
    assert _reference(2).distance_map(volume, (8, 7, 5)).shape == (1, 8, 7, 5)
    with pytest.raises(SeguqError, match="2 encoder levels, the reference has 1"):
        _reference(1).distance_map(volume, (8, 8, 8))


def test_strides_follow_the_padded_input():
    assert level_strides([(256, 256), (128, 128), (32, 32)], (250, 250)) == [1, 2, 8]
    assert level_strides([(32, 32), (16, 16), (8, 8)], (12, 12)) == [1, 2, 4]  # padded to 32
    assert level_strides([(32, 32, 4), (16, 16, 2)], (32, 30, 4)) == [1, 2]
    assert level_strides([(64, 64), (32, 32)], (128, 128)) == [2, 4]  # finest already halved
    assert valid_extent((32, 32), (250, 250), 8) == (32, 32)
    assert valid_extent((8, 8), (12, 12), 4) == (3, 3)


def test_the_fit_samples_no_padded_position():
    features = torch.full((2, 3, 8, 8), 100.0)  # padding: 100
    features[:, :, :6, :5] = torch.randn(2, 3, 6, 5)  # the input: 6 x 5
    rows = sample_positions(features, (6, 5), 1, 1000, np.random.default_rng(0))
    assert rows.shape == (2 * 6 * 5, 3) and np.abs(rows).max() < 100
    few = sample_positions(features, (6, 5), 1, 7, np.random.default_rng(0))
    assert few.shape == (7, 3) and np.abs(few).max() < 100


def test_fitted_statistics_reload_and_rank_outliers(tmp_path):
    rng = np.random.default_rng(0)
    rows = [rng.normal(size=(4000, 3)) * [1.0, 2.0, 3.0], rng.normal(size=(500, 5))]
    reference = FeatureMapReference.fit(rows)
    assert reference.samples == [4000, 500]
    # the median distance of 3-dimensional standard normal samples: sqrt(chi2_3 median) = 1.54
    assert reference.scales[0] == pytest.approx(1.54, abs=0.05)
    reference.save(tmp_path)
    again = FeatureMapReference.load(tmp_path)
    assert again.scales == reference.scales
    assert np.array_equal(again.precisions[1], reference.precisions[1])
    typical = [torch.zeros(1, 3, 4, 4), torch.zeros(1, 5, 2, 2)]
    foreign = [t + 6.0 for t in typical]
    assert again.distance_map(foreign, (4, 4)).min() > 3 * again.distance_map(typical, (4, 4)).max()
    assert FeatureMapReference.load(tmp_path / "none") is None
    (tmp_path / "feature_map_reference.npz").write_bytes(b"not an npz")
    with pytest.raises(SeguqError, match="unreadable feature-map reference"):
        FeatureMapReference.load(tmp_path)


def test_a_dead_channel_keeps_the_covariance_invertible():
    rows = np.random.default_rng(1).normal(size=(200, 3))
    rows[:, 2] = 0.0  # a channel that never fires
    reference = FeatureMapReference.fit([rows])
    assert np.isfinite(reference.precisions[0]).all() and reference.scales[0] > 0
    with pytest.raises(SeguqError, match="level 0 has 1 training positions"):
        FeatureMapReference.fit([rows[:1]])
