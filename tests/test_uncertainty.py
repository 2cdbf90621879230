import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from seguq.errors import SeguqError
from seguq.uncertainty import (
    UNCERTAINTY_MAPS,
    compute_maps,
    expected_entropy,
    foreground_variance,
    image_score,
    mean_probs,
    mutual_information,
    predicted_labels,
    predictive_entropy,
)


def random_probs(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """Dirichlet-like samples of shape (S, B, K, *spatial)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.softmax(3 * torch.randn(shape, generator=generator, dtype=torch.float64), dim=2)


def test_uniform_distribution_has_entropy_log_k():
    K = 4
    P = torch.full((3, 2, K, 5, 5), 1.0 / K)
    assert torch.allclose(predictive_entropy(P), torch.full((2, 5, 5), math.log(K)))
    assert torch.allclose(expected_entropy(P), torch.full((2, 5, 5), math.log(K)))
    assert torch.allclose(mutual_information(P), torch.zeros(2, 5, 5), atol=1e-6)


def test_identical_samples_have_zero_mutual_information_and_variance():
    single = random_probs((1, 2, 3, 6, 7))
    P = single.expand(5, -1, -1, -1, -1)
    zeros = torch.zeros(2, 6, 7, dtype=torch.float64)
    assert torch.allclose(mutual_information(P), zeros, atol=1e-12)
    assert torch.allclose(foreground_variance(P), zeros, atol=1e-12)
    assert torch.equal(mutual_information(single), zeros)
    assert torch.equal(foreground_variance(single), zeros)


def test_total_equals_aleatoric_plus_epistemic():
    P = random_probs((6, 2, 3, 8, 8), seed=1)
    total, aleatoric, epistemic = compute_maps(P, ["total", "aleatoric", "epistemic"]).values()
    assert torch.allclose(total, aleatoric + epistemic, atol=1e-12)
    assert (epistemic > 0).any()


def test_hand_case_disagreeing_one_hot_samples():
    # Two confident samples that disagree: no aleatoric, log 2 epistemic, fg variance 1/4.
    P = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).reshape(2, 1, 2, 1)
    assert predictive_entropy(P).item() == pytest.approx(math.log(2))
    assert expected_entropy(P).item() == pytest.approx(0.0)
    assert mutual_information(P).item() == pytest.approx(math.log(2))
    assert foreground_variance(P).item() == pytest.approx(0.25)
    assert not torch.isnan(expected_entropy(P)).any()


def test_shapes_for_any_number_of_spatial_dims():
    for spatial in [(), (7,), (4, 5), (3, 4, 5)]:
        P = random_probs((2, 3, 4, *spatial))
        assert mean_probs(P).shape == (3, 4, *spatial)
        assert predicted_labels(P).shape == (3, *spatial)
        assert predicted_labels(P).dtype == torch.int64
        for fn in UNCERTAINTY_MAPS.values():
            assert fn(P).shape == (3, *spatial)


def test_half_precision_is_upcast():
    P = random_probs((2, 1, 3, 4, 4)).half()
    assert predictive_entropy(P).dtype == torch.float32


def test_predicted_labels_is_argmax_of_mean():
    P = torch.tensor([[0.6, 0.4], [0.0, 1.0]]).reshape(2, 1, 2, 1)
    assert predicted_labels(P).item() == 1  # mean is (0.3, 0.7)


def test_compute_maps_unknown_name_lists_known_ones():
    with pytest.raises(SeguqError, match="aleatoric, epistemic, total, variance"):
        compute_maps(random_probs((2, 1, 2, 3, 3)), ["total", "entropy"])


def test_compute_maps_matches_individual_functions():
    P = random_probs((4, 2, 3, 5, 5), seed=3)
    maps = compute_maps(P, ["epistemic", "variance", "total"])
    assert list(maps) == ["epistemic", "variance", "total"]
    for name, value in maps.items():
        assert torch.allclose(value, UNCERTAINTY_MAPS[name](P))


def test_bad_probability_shape_raises():
    with pytest.raises(SeguqError):
        predictive_entropy(torch.ones(2, 3))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.just(1), st.integers(2, 4), st.integers(1, 3)),
        elements=st.floats(0.0, 1.0),
    )
)
def test_mutual_information_bounds(raw):
    probs = torch.from_numpy(raw + 1e-9)
    probs = probs / probs.sum(2, keepdim=True)
    K = probs.shape[2]
    mi = mutual_information(probs)
    assert (mi >= 0).all()
    assert (mi <= math.log(K) + 1e-9).all()
    assert (predictive_entropy(probs) <= math.log(K) + 1e-9).all()


# image-level scores


def test_image_score_mean_and_top():
    umap = torch.arange(20, dtype=torch.float32).reshape(1, 4, 5)  # 0..19
    assert image_score(umap, method="mean").item() == pytest.approx(9.5)
    # top 10% of 20 pixels = 2 pixels: 18, 19
    assert image_score(umap, method="top", top_fraction=0.1).item() == pytest.approx(18.5)
    # a tiny fraction still keeps one pixel
    assert image_score(umap, method="top", top_fraction=1e-6).item() == pytest.approx(19.0)


def test_image_score_foreground_dilated_region():
    umap = torch.zeros(2, 7, 7)
    umap[:, 2:5, 2:5] = 1.0  # 3x3 block around the centre
    umap[:, 0, 0] = 100.0  # far from the predicted object
    prediction = torch.zeros(2, 7, 7, dtype=torch.int64)
    prediction[0, 3, 3] = 2
    # margin 1 around the centre pixel is exactly the 3x3 block -> mean 1.0
    scores = image_score(umap, method="foreground", prediction=prediction, margin=1)
    assert scores[0].item() == pytest.approx(1.0)
    # image 1 has no predicted foreground -> falls back to the image mean
    assert scores[1].item() == pytest.approx(umap[1].mean().item())
    # margin 0: only the predicted pixel itself
    score = image_score(umap[:1], method="foreground", prediction=prediction[:1], margin=0)
    assert score.item() == pytest.approx(1.0)
    # margin 2: 5x5 region, 9 ones out of 25
    score = image_score(umap[:1], method="foreground", prediction=prediction[:1], margin=2)
    assert score.item() == pytest.approx(9 / 25)


def test_image_score_foreground_3d():
    umap = torch.zeros(1, 5, 5, 5)
    umap[0, 1:4, 1:4, 1:4] = 2.0
    prediction = torch.zeros(1, 5, 5, 5, dtype=torch.int64)
    prediction[0, 2, 2, 2] = 1
    score = image_score(umap, method="foreground", prediction=prediction, margin=1)
    assert score.item() == pytest.approx(2.0)


def test_image_score_errors():
    umap = torch.rand(1, 4, 4)
    with pytest.raises(SeguqError, match="known: mean, foreground, top"):
        image_score(umap, method="max")
    with pytest.raises(SeguqError, match="prediction"):
        image_score(umap, method="foreground")
    with pytest.raises(SeguqError):
        image_score(umap, method="foreground", prediction=torch.zeros(1, 3, 3, dtype=torch.long))
    with pytest.raises(SeguqError):
        image_score(umap, method="top", top_fraction=0.0)
    with pytest.raises(SeguqError):
        image_score(umap, method="foreground", prediction=torch.zeros_like(umap).long(), margin=-1)
