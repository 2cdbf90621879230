"""Cases loaded into arrays: normalisation, channel matching, slicing, shape checks."""

from __future__ import annotations

import numpy as np
import pytest

from seguq.data.arrays import from_slices, load_case, to_slices
from seguq.data.preprocess import match_channels, normalize_intensity
from seguq.data.sources import load_source
from seguq.errors import SeguqError


def test_normalize_intensity_per_channel(rng):
    image = np.stack([rng.normal(1e6, 5e4, (6, 7)), np.full((6, 7), 3.0)])
    out = normalize_intensity(image)
    assert out.dtype == np.float32 and out.shape == (2, 6, 7)
    assert abs(out[0].mean()) < 1e-4 and abs(out[0].std() - 1) < 1e-4
    np.testing.assert_array_equal(out[1], 0)
    assert image[1, 0, 0] == 3.0  # input untouched


def test_match_channels(rng):
    rgb = rng.random((3, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(match_channels(rgb, 1, "x.png")[0], rgb.mean(0), rtol=1e-6)
    grey = rgb[:1]
    assert match_channels(grey, 3, "x.png").shape == (3, 4, 5)
    assert match_channels(rgb, 3, "x.png") is rgb
    with pytest.raises(SeguqError, match=r"x\.png: image has 2 channels, the model expects 3"):
        match_channels(rgb[:2], 3, "x.png")


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_slices_round_trip(rng, axis):
    volume = rng.random((2, 3, 4, 5))
    slices = to_slices(volume, axis)
    assert len(slices) == volume.shape[axis + 1]
    other = [s for i, s in enumerate(volume.shape[1:]) if i != axis]
    assert all(s.shape == (2, *other) for s in slices)
    np.testing.assert_array_equal(from_slices(slices, axis), volume)
    masks = rng.integers(0, 3, (1, 3, 4, 5))
    np.testing.assert_array_equal(from_slices(to_slices(masks, axis), axis), masks)
    with pytest.raises(ValueError):
        to_slices(volume[0], axis)


def test_load_case_checks_shapes_and_labels(tmp_path, write):
    write.png(tmp_path / "i.png", np.arange(6, dtype=np.uint8).reshape(2, 3))
    write.png(tmp_path / "m.png", np.array([[0, 255, 0], [0, 0, 0]], np.uint8))
    write.png(tmp_path / "wide.png", np.zeros((2, 4), np.uint8))
    write.png(tmp_path / "odd.png", np.array([[0, 7, 0], [0, 0, 0]], np.uint8))
    write.text(
        tmp_path / "manifest.csv",
        "id,image,mask,mask_b\nok,i.png,m.png,m.png\nwide,i.png,wide.png,\nodd,i.png,odd.png,\n",
    )
    # Inferring the map would already refuse the odd mask; a given map leaves it to load_case.
    source = load_source(tmp_path, label_map={0: 0, 255: 1})
    arrays = load_case(source.cases[0], source)
    assert arrays.image.dtype == np.float32 and arrays.image.shape == (1, 2, 3)
    assert arrays.masks.dtype == np.int64 and arrays.masks.shape == (2, 2, 3)
    assert arrays.geometry.shape == (2, 3)
    with pytest.raises(SeguqError) as error:
        load_case(source.cases[1], source)
    assert "wide.png" in str(error.value) and "i.png" in str(error.value)
    with pytest.raises(SeguqError, match=r"odd\.png: mask values \[7\] are not in the label map"):
        load_case(source.cases[2], source)
