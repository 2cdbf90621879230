"""Preprocessing: resampling to a target spacing and back, CT normalisation, channels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seguq.data.io import Geometry
from seguq.data.preprocess import Preprocessing, normalize_ct, resample
from seguq.errors import SeguqError


def _geometry(shape, spacing):
    return Geometry(
        format="nifti", shape=shape, affine=np.eye(4), spacing=spacing, suffix=".nii.gz"
    )


def test_no_target_spacing_keeps_the_grid():
    prep = Preprocessing()
    geometry = _geometry((10, 12, 8), (1.0, 1.0, 3.0))
    image = np.random.default_rng(0).normal(size=(1, 10, 12, 8)).astype(np.float32)
    out = prep.image(image * 7 + 3, geometry, "x")
    assert out.shape == image.shape and abs(out.mean()) < 1e-5 and abs(out.std() - 1) < 1e-4


def test_resampling_to_the_target_and_back():
    prep = Preprocessing(target_spacing=(2.0, 2.0, 3.0))
    geometry = _geometry((20, 24, 8), (1.0, 1.0, 3.0))
    assert prep.grid(geometry) == (10, 12, 8)  # within 5%: the third axis is kept
    labels = np.zeros((1, 20, 24, 8), np.int64)
    labels[:, 4:16, 6:18] = 2
    small = prep.masks(labels, geometry)
    assert small.shape == (1, 10, 12, 8) and set(np.unique(small)) == {0, 2}
    probs = torch.softmax(torch.randn(3, 4, 10, 12, 8), dim=1)
    restored = prep.restore(probs, geometry, normalise=True)
    assert restored.shape == (3, 4, 20, 24, 8)
    assert torch.allclose(restored.sum(1), torch.ones(3, 20, 24, 8), atol=1e-5)


def test_2d_images_shrink_with_anti_aliasing():
    checker = (np.indices((64, 64)).sum(0) % 2).astype(np.float32)[None]
    shrunk = resample(checker, (32, 32), "linear")
    assert shrunk.shape == (1, 32, 32) and shrunk.std() < 0.05  # the fine pattern averages out


def test_a_target_spacing_with_other_axes_is_an_error():
    prep = Preprocessing(target_spacing=(1.0, 1.0, 1.0))
    with pytest.raises(SeguqError, match="has 3 axes, the image has 2"):
        prep.grid(Geometry(format="png", shape=(8, 8), spacing=(1.0, 1.0)))


def test_ct_normalisation_clips_then_z_scores():
    image = np.array([[-2000.0, -100.0, 0.0, 100.0, 3000.0]])
    out = normalize_ct(image, (-100.0, 100.0, 0.0, 50.0))
    assert np.allclose(out, [[-2.0, -2.0, 0.0, 2.0, 2.0]])
    prep = Preprocessing(normalization="ct", ct_stats=(-100.0, 100.0, 0.0, 50.0), in_channels=1)
    geometry = _geometry((1, 1, 5), (1.0, 1.0, 1.0))
    assert np.allclose(prep.image(image.reshape(1, 1, 1, 5), geometry, "x").ravel(), out.ravel())
