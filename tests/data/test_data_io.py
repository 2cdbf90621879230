"""Reading and writing images, masks and maps with their geometry."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import tifffile
from PIL import Image

from seguq.data.io import (
    Geometry,
    atomic_write,
    check_same_shape,
    output_suffix,
    read_image,
    read_mask,
    to_classes,
    write_map,
    write_mask,
)
from seguq.data.maps import read_map
from seguq.errors import SeguqError


def _affine() -> np.ndarray:
    """A non-trivial affine: anisotropic spacing, a rotation about z, an offset."""
    c, s = np.cos(0.3), np.sin(0.3)
    rotation = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([0.5, 2.0, 3.0])
    affine[:3, 3] = [10.0, -20.0, 5.5]
    return affine


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


# --- 2D images -----------------------------------------------------------------------------


def test_png_grey_rgb_rgba(tmp_path, write, rng):
    grey = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    rgba = np.concatenate([rgb, np.full((5, 7, 1), 9, np.uint8)], axis=-1)
    for name, array, channels in (("g.png", grey, 1), ("c.png", rgb, 3), ("a.png", rgba, 3)):
        image, geometry = read_image(write.png(tmp_path / name, array))
        assert image.dtype == np.float32 and image.shape == (channels, 5, 7)
        expected = array[None] if array.ndim == 2 else np.moveaxis(array[..., :3], -1, 0)
        np.testing.assert_array_equal(image, expected)
        assert geometry == Geometry("png", (5, 7), spacing=(1.0, 1.0), suffix=".png")
        assert geometry.affine is None and geometry.header is None


def test_png_other_modes(tmp_path, rng):
    grey = rng.integers(0, 256, (4, 6), dtype=np.uint8)
    Image.fromarray(grey).convert("LA").save(tmp_path / "la.png")
    image, _ = read_image(tmp_path / "la.png")
    np.testing.assert_array_equal(image[0], grey)

    Image.fromarray(np.stack([grey] * 3, -1)).convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png")[0].shape == (3, 4, 6)

    deep = (grey.astype(np.uint16) * 200).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "i16.png")
    image, _ = read_image(tmp_path / "i16.png")
    assert image.shape == (1, 4, 6) and image.max() == deep.max() > 255


def test_jpeg_reads_and_masks_write_lossless_png(tmp_path, rng):
    rgb = rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "x.jpeg", quality=95)
    image, geometry = read_image(tmp_path / "x.jpeg")
    assert image.shape == (3, 8, 9) and geometry.format == "jpeg" and geometry.suffix == ".jpg"
    labels = rng.integers(0, 4, (8, 9))
    out = write_mask(tmp_path / "out" / "x_mask", labels, geometry)
    assert out == tmp_path / "out" / "x_mask.png"
    np.testing.assert_array_equal(np.asarray(Image.open(out)), labels)


def test_tiff_images_and_float_maps(tmp_path, rng):
    grey = rng.integers(0, 4000, (6, 5), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "g.tif", grey)
    image, geometry = read_image(tmp_path / "g.tif")
    np.testing.assert_array_equal(image, grey[None])
    assert geometry.format == "tiff" and geometry.shape == (6, 5) and geometry.suffix == ".tif"

    rgb = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "c.tiff", rgb, photometric="rgb")
    image, geometry = read_image(tmp_path / "c.tiff")
    np.testing.assert_array_equal(image, np.moveaxis(rgb, -1, 0))

    values = rng.random((3, 6, 5)).astype(np.float32)
    out = write_map(tmp_path / "probs", values, geometry, float_format="tiff")
    assert out.name == "probs.tif"
    np.testing.assert_array_equal(tifffile.imread(out), values)
    np.testing.assert_array_equal(read_image(out)[0], values)
    labels = rng.integers(0, 3, (6, 5))
    np.testing.assert_array_equal(
        read_mask(write_mask(tmp_path / "m", labels, geometry))[0], labels
    )


def test_npy_maps_for_2d(tmp_path, write, rng):
    _, geometry = read_image(write.png(tmp_path / "a.png", np.zeros((4, 3), np.uint8)))
    for values in (rng.random((4, 3)), rng.random((2, 4, 3))):
        out = write_map(tmp_path / "u", values, geometry)
        assert out.name == "u.npy"
        loaded = np.load(out)
        assert loaded.dtype == np.float32
        np.testing.assert_allclose(loaded, values.astype(np.float32))
    with pytest.raises(ValueError):
        write_map(tmp_path / "bad", rng.random((5, 3)), geometry)


def test_half_precision_maps_for_2d_and_float32_nifti(tmp_path, write, rng):
    _, geometry = read_image(write.png(tmp_path / "a.png", np.zeros((64, 48), np.uint8)))
    values = rng.random((2, 64, 48))
    for ending, float_format in ((".npy", "npy"), (".tif", "tiff")):
        out = write_map(tmp_path / "h", values, geometry, float_format, dtype="float16")
        assert out.suffix == ending
        half = read_map(out, 2)
        assert half.dtype == np.float32  # read back as float32
        np.testing.assert_allclose(half, values, atol=5e-4)
        full = write_map(tmp_path / "f", values, geometry, float_format, dtype="float32")
        assert out.stat().st_size < 0.55 * full.stat().st_size  # half the bytes of float32
    with pytest.raises(SeguqError, match="--map-dtype: expected one of float16, float32"):
        write_map(tmp_path / "x", values, geometry, dtype="float64")
    _, volume = read_image(write.nifti(tmp_path / "v.nii.gz", np.zeros((3, 3, 2), np.float32)))
    nifti = write_map(tmp_path / "p", rng.random((3, 3, 2)), volume, dtype="float16")
    assert nib.load(nifti).get_data_dtype() == np.float32  # NIfTI readers know no float16


# --- NIfTI ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", [".nii.gz", ".nii"])
def test_nifti_mask_round_trip_keeps_geometry(tmp_path, write, rng, ending):
    volume = rng.normal(100, 20, (6, 5, 4)).astype(np.float32)
    source = write.nifti(tmp_path / f"img{ending}", volume, _affine())
    image, geometry = read_image(source)
    assert image.shape == (1, 6, 5, 4) and image.dtype == np.float32
    np.testing.assert_allclose(image[0], volume)
    assert geometry.format == "nifti" and geometry.shape == (6, 5, 4)
    assert geometry.suffix == ending
    np.testing.assert_allclose(geometry.spacing, (0.5, 2.0, 3.0), rtol=1e-6)

    labels = rng.integers(0, 3, (6, 5, 4))
    out = write_mask(tmp_path / "pred" / "img_mask", labels, geometry)
    assert out.name == f"img_mask{ending}"
    written = nib.load(out)
    np.testing.assert_allclose(written.affine, _affine(), atol=1e-5)
    assert written.shape == (6, 5, 4) and written.get_data_dtype() == np.uint8
    np.testing.assert_array_equal(written.header["dim"], nib.load(source).header["dim"])
    np.testing.assert_allclose(written.header.get_zooms(), nib.load(source).header.get_zooms())
    raw, mask_geometry = read_mask(out)
    np.testing.assert_array_equal(raw, labels)
    assert mask_geometry == geometry


def test_nifti_large_labels_use_int16(tmp_path, write):
    _, geometry = read_image(write.nifti(tmp_path / "a.nii.gz", np.zeros((3, 3, 2), np.float32)))
    labels = np.full((3, 3, 2), 300)
    out = write_mask(tmp_path / "m", labels, geometry)
    assert nib.load(out).get_data_dtype() == np.int16
    np.testing.assert_array_equal(read_mask(out)[0], labels)


def test_a_4d_volume_is_channels_only_when_said(tmp_path, write, rng):
    volume = rng.random((4, 3, 2, 3)).astype(np.float32)  # 3 channels, or 3 time points?
    path = write.nifti(tmp_path / "imagesTr" / "v.nii.gz", volume, _affine())
    with pytest.raises(SeguqError, match=r"v\.nii\.gz: a 4D volume .*names 3 channels"):
        read_image(path)
    (tmp_path / "dataset.json").write_text('{"channel_names": {"0": "T1", "1": "T2", "2": "F"}}')
    assert read_image(path)[0].shape == (3, 4, 3, 2)


def test_nifti_4d_image_and_map(tmp_path, write, rng):
    volume = rng.random((4, 3, 2, 2)).astype(np.float32)  # (X, Y, Z, C)
    (tmp_path / "dataset.json").write_text('{"modality": {"0": "T1", "1": "T2"}}')
    image, geometry = read_image(write.nifti(tmp_path / "mm.nii.gz", volume, _affine()))
    assert image.shape == (2, 4, 3, 2) and geometry.shape == (4, 3, 2)
    np.testing.assert_allclose(image, np.moveaxis(volume, -1, 0))

    maps = rng.random((3, 4, 3, 2)).astype(np.float32)
    out = write_map(tmp_path / "probs", maps, geometry)
    written = nib.load(out)
    assert written.shape == (4, 3, 2, 3) and written.get_data_dtype() == np.float32
    np.testing.assert_allclose(written.affine, _affine(), atol=1e-5)
    np.testing.assert_allclose(written.get_fdata(), np.moveaxis(maps, 0, -1), rtol=1e-6)
    single = nib.load(write_map(tmp_path / "entropy", maps[0], geometry))
    assert single.shape == (4, 3, 2)


def test_channel_files_are_stacked(tmp_path, write, rng):
    a = write.nifti(tmp_path / "c_0000.nii.gz", rng.random((3, 4, 2)).astype(np.float32))
    b = write.nifti(tmp_path / "c_0001.nii.gz", rng.random((3, 4, 2)).astype(np.float32))
    image, geometry = read_image([a, b])
    assert image.shape == (2, 3, 4, 2) and geometry.shape == (3, 4, 2)
    other = write.nifti(tmp_path / "d_0001.nii.gz", np.zeros((3, 4, 3), np.float32))
    with pytest.raises(SeguqError, match="d_0001.nii.gz"):
        read_image([a, other])


# --- masks ---------------------------------------------------------------------------------


def test_colour_masks(tmp_path, write):
    grey = np.array([[0, 128], [255, 0]], np.uint8)
    raw, _ = read_mask(write.png(tmp_path / "equal.png", np.stack([grey] * 3, -1)))
    np.testing.assert_array_equal(raw, grey)
    assert raw.dtype == np.int64

    # M&Ms: channel c == 255 means class c + 1
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0, 0] = rgb[0, 1, 1] = rgb[0, 2, 2] = 255
    raw, _ = read_mask(write.png(tmp_path / "mnms.png", rgb))
    np.testing.assert_array_equal(raw, [[1, 2, 3], [0, 0, 0]])

    palette = Image.fromarray(np.array([[0, 1], [2, 1]], np.uint8), mode="P")
    palette.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    palette.save(tmp_path / "palette.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "palette.png")[0], [[0, 1], [2, 1]])


def test_nifti_masks_are_rounded_or_refused(tmp_path, write):
    near = np.array([[[0.0], [1.0000001]], [[2.0], [0.0]]], np.float32)
    np.testing.assert_array_equal(
        read_mask(write.nifti(tmp_path / "ok.nii.gz", near))[0][..., 0], [[0, 1], [2, 0]]
    )
    half = np.full((2, 2, 1), 0.5, np.float32)
    with pytest.raises(SeguqError, match=r"half\.nii\.gz.*non-integer"):
        read_mask(write.nifti(tmp_path / "half.nii.gz", half))


def test_to_classes_and_unknown_values():
    raw = np.array([[0, 128], [255, 255]])
    classes = to_classes(raw, {255: 0, 128: 1, 0: 2}, Path("m.png"))
    np.testing.assert_array_equal(classes, [[2, 1], [0, 0]])
    assert classes.dtype == np.int64
    with pytest.raises(SeguqError) as error:
        to_classes(np.array([0, 3, 7, 255]), {0: 0, 255: 1}, Path("dir/m.png"))
    assert str(error.value) == (
        "dir/m.png: mask values [3, 7] are not in the label map {0: 0, 255: 1}"
    )


def test_check_same_shape_names_both_files():
    check_same_shape(np.zeros((3, 4, 5)), np.zeros((4, 5)), "img.png", "mask.png")
    with pytest.raises(SeguqError) as error:
        check_same_shape(np.zeros((3, 4, 5)), np.zeros((4, 6)), "img.png", "mask.png")
    message = str(error.value)
    assert "img.png" in message and "mask.png" in message
    assert "(4, 6)" in message and "(4, 5)" in message


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("reader", [read_image, read_mask])
def test_missing_file(tmp_path, reader):
    with pytest.raises(SeguqError, match=r"nothere\.png: file not found"):
        reader(tmp_path / "nothere.png")


@pytest.mark.parametrize("reader", [read_image, read_mask])
def test_corrupt_and_non_image_files(tmp_path, write, reader):
    good = write.png(tmp_path / "good.png", np.zeros((20, 20), np.uint8)).read_bytes()
    (tmp_path / "truncated.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "text.tif").write_text("not an image")
    (tmp_path / "broken.nii.gz").write_bytes(gzip.compress(b"garbage" * 10))
    (tmp_path / "notes.txt").write_text("hello")
    for name in ("truncated.png", "text.png", "text.tif", "broken.nii.gz", "notes.txt"):
        with pytest.raises(SeguqError) as error:
            reader(tmp_path / name)
        message = str(error.value)
        assert str(tmp_path / name) in message and "\n" not in message


def test_nan_and_inf_are_refused(tmp_path, write):
    volume = np.ones((3, 3, 2), np.float32)
    volume[1, 1, 1] = np.nan
    with pytest.raises(SeguqError, match=r"nan\.nii\.gz: image contains NaN"):
        read_image(write.nifti(tmp_path / "nan.nii.gz", volume))
    with pytest.raises(SeguqError, match=r"nan\.nii\.gz: mask contains NaN"):
        read_mask(tmp_path / "nan.nii.gz")
    flat = np.ones((3, 3), np.float32)
    flat[0, 0] = np.inf
    tifffile.imwrite(tmp_path / "inf.tif", flat)
    with pytest.raises(SeguqError, match=r"inf\.tif"):
        read_image(tmp_path / "inf.tif")


# --- writing -------------------------------------------------------------------------------


def test_atomic_write_leaves_no_temp_files(tmp_path):
    target = tmp_path / "out" / "a.bin"
    assert atomic_write(target, lambda temp: temp.write_bytes(b"new")) == target
    assert _files(tmp_path / "out") == {"a.bin"}

    def failing(temp: Path) -> None:
        temp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, failing)
    assert _files(tmp_path / "out") == {"a.bin"} and target.read_bytes() == b"new"
    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "out" / "b.bin", failing)
    assert _files(tmp_path / "out") == {"a.bin"}


def test_writers_do_not_touch_inputs(tmp_path, write, rng):
    source = write.nifti(tmp_path / "in" / "img.nii.gz", rng.random((3, 4, 2)).astype(np.float32))
    before = (source.read_bytes(), os.stat(source).st_mtime_ns)
    _, geometry = read_image(source)
    header_before = geometry.header.copy()
    labels = rng.integers(0, 2, (3, 4, 2))
    labels_before = labels.copy()
    write_mask(tmp_path / "in" / "img_mask", labels, geometry)
    write_map(tmp_path / "in" / "img_probs", rng.random((2, 3, 4, 2)), geometry)
    assert (source.read_bytes(), os.stat(source).st_mtime_ns) == before
    np.testing.assert_array_equal(labels, labels_before)
    assert geometry.header == header_before
    assert _files(tmp_path / "in") == {"img.nii.gz", "img_mask.nii.gz", "img_probs.nii.gz"}


def test_output_suffix():
    png = Geometry("png", (2, 2), spacing=(1.0, 1.0))
    nii = Geometry("nifti", (2, 2, 2), affine=np.eye(4), suffix=".nii")
    assert output_suffix(png, "mask") == ".png"
    assert output_suffix(png, "map") == ".npy"
    assert output_suffix(png, "map", "tiff") == ".tif"
    assert output_suffix(nii, "mask") == output_suffix(nii, "map", "tiff") == ".nii"
    with pytest.raises(SeguqError, match="float format 'exr'"):
        output_suffix(png, "map", "exr")
