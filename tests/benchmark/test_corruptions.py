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


def test_volumes_are_corrupted_in_3d():
    volume = np.zeros((27, 36, 45), dtype=np.float32)
    volume[13, 18, 22] = 1.0
    blurred = corrupt_image(volume, "blur", np.random.default_rng(0), 30.0, spatial_dims=3)
    # a point spreads along every spatial axis, not only the first two
    assert blurred[13, 18, 21] > 0 and blurred[12, 18, 22] > 0 and blurred[13, 17, 22] > 0
    corner = np.zeros_like(volume)
    corner[0, 0, 0] = 1.0  # the range's maximum, outside the cube this seed draws
    cube = corrupt_image(corner, "patch", np.random.default_rng(0), 9 / 8, 3)
    side = round(27 * (1 / 8) ** (1 / 3))
    filled = np.argwhere(cube != corner)
    assert np.all(cube[tuple(filled.T)] == 1.0)
    assert len(filled) == side**3
    assert (filled.max(0) - filled.min(0) + 1).tolist() == [side] * 3


def test_nifti_test_volumes_get_nifti_copies_with_their_geometry(tmp_path):
    import nibabel as nib

    from seguq.benchmark.corruptions import corrupt_subset

    affine = np.diag([1.5, 2.0, 2.5, 1.0])
    affine[:3, 3] = [10, -20, 30]
    source = tmp_path / "case.nii.gz"
    data = np.random.default_rng(0).integers(0, 900, (8, 10, 12)).astype(np.int16)
    nib.save(nib.Nifti1Image(data, affine), source)
    subset = tmp_path / "subset.csv"
    subset.write_text(f"id,split,image,mask\ncase,test,{source},{source}\n")
    manifest = corrupt_subset(subset, tmp_path / "out", "noise", strength=2, repo=tmp_path / "repo")
    row = manifest.read_text().splitlines()[1].split(",")
    assert row[0] == "case_noise-2" and row[2].endswith("case_noise-2.nii.gz")
    copy = nib.load(manifest.parent / row[2])
    np.testing.assert_allclose(copy.affine, affine)
    assert copy.shape == data.shape
    values = copy.get_fdata()
    assert values.min() >= data.min() and values.max() <= data.max()  # the volume's own range
    assert np.abs(values - data).mean() > 50
    assert source.is_file() and np.array_equal(nib.load(source).get_fdata(), data)  # untouched
