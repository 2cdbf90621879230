import numpy as np
import pytest

from seguq.benchmark.corruptions import corrupt_image, corruption_name
from seguq.errors import SeguqError


def image() -> np.ndarray:
    y, x = np.mgrid[:64, :64]
    return ((x + y) * 2).astype(np.uint8)  # a ramp, 0..252


def test_strength_scales_each_corruption():
    base = image()
    rng = np.random.default_rng
    noise = [corrupt_image(base, "noise", rng(0), s).astype(float) - base for s in (0.5, 1, 2)]
    assert np.std(noise[0]) < np.std(noise[1]) < np.std(noise[2])
    blur = [corrupt_image(base, "blur", rng(0), s) for s in (1, 2)]
    # Blur of a ramp changes it only near the borders, more with a wider kernel.
    assert np.abs(blur[0].astype(float) - base).sum() < np.abs(blur[1].astype(float) - base).sum()
    patch = [corrupt_image(np.zeros_like(base), "patch", rng(0), s) for s in (1, 4)]
    assert (patch[0] == 255).sum() == round(64 / 3) ** 2
    assert (patch[1] == 255).sum() == round(64 * 2 / 3) ** 2
    for out in noise[:0] + blur + patch:
        assert out.dtype == np.uint8 and out.shape == base.shape


def test_default_strength_and_names():
    base = image()
    same = corrupt_image(base, "noise", np.random.default_rng(3))
    again = corrupt_image(base, "noise", np.random.default_rng(3), 1.0)
    np.testing.assert_array_equal(same, again)
    assert corruption_name("noise", 1.0) == "noise"
    assert corruption_name("blur", 0.5) == "blur-0.5"
    with pytest.raises(SeguqError, match="unknown corruption 'fog'"):
        corrupt_image(base, "fog", np.random.default_rng(0))
    with pytest.raises(SeguqError, match="must be positive"):
        corrupt_image(base, "blur", np.random.default_rng(0), 0.0)
