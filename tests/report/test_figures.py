"""Charts and case figures from hand-made data: PNG bytes, curves, slices."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from seguq.report.case_figure import case_figure, error_labels, mask_rgba
from seguq.report.case_view import CaseView, choose_slice, display_image, load_view
from seguq.report.charts import (
    reliability_figure,
    reliability_points,
    retention_figure,
    roc_curve,
    roc_figure,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


def _size(png: bytes) -> tuple[int, int]:
    assert png.startswith(PNG_MAGIC)
    return Image.open(io.BytesIO(png)).size


def test_roc_curve_runs_from_origin_to_one_and_separates_perfectly():
    fpr, tpr = roc_curve([0.1, 0.2, 0.3], [0.4, 0.5])
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert tpr[np.argmax(fpr > 0)] == 1.0  # every OOD case is caught before any false positive


def test_roc_and_retention_figures_are_pngs():
    rng = np.random.default_rng(0)
    roc = roc_figure(
        {
            "far (far_ood) vs test": {"a": (rng.random(10), rng.random(5) + 0.5), "b": ([0], [1])},
            "noise (corrupt) vs test": {"a": (rng.random(10), rng.random(5))},
        }
    )
    width, height = _size(roc)
    assert width > height > 100
    curve = {"retained": [1.0, 0.5, 0.1], "dice": [0.8, 0.85, None]}
    assert _size(retention_figure({"test": {"a": curve, "b": curve}}))[0] > 100


def test_reliability_skips_empty_bins():
    bins = [
        {"bin_lower": 0.0, "bin_upper": 0.5, "count": 0, "confidence": None, "accuracy": None},
        {"bin_lower": 0.5, "bin_upper": 1.0, "count": 9, "confidence": 0.8, "accuracy": 0.7},
    ]
    confidence, accuracy, count = reliability_points(bins)
    assert confidence.tolist() == [0.8] and accuracy.tolist() == [0.7] and count.tolist() == [9]
    assert _size(reliability_figure({"test": {"a": bins}, "site4": {"a": bins, "b": bins}}))


def _level_maps(rng, shape):
    """Three levels: level0 and level1 unlike, level2 nearly level0's map (left out)."""
    a, b = rng.random(shape), rng.random(shape)
    return {"level0": a, "level1": b, "level2": a + 0.01 * rng.random(shape)}


def test_case_figure_draws_masks_errors_maps_and_the_levels_that_differ():
    rng = np.random.default_rng(0)
    truth = np.zeros((32, 40), np.int64)
    truth[8:20, 10:30] = 1
    truth[12:16, 15:25] = 2
    view = CaseView(
        image=rng.random((32, 40, 3)).astype(np.float32),
        truth=truth,
        pred=np.roll(truth, 2, axis=1),
        maps={"total": rng.random((32, 40)), "epistemic": np.zeros((32, 40))},
        levels={
            "total": _level_maps(rng, (32, 40)),
            "epistemic": {f"level{i}": np.full((32, 40), 0.5) for i in range(3)},
        },
    )
    image, notes = case_figure(view, ["background", "rim", "cup"], "method — set/case")
    assert image.startswith(JPEG_MAGIC)
    width, height = Image.open(io.BytesIO(image)).size
    # rows of four (image, truth, prediction, errors), two maps, then two of three levels
    assert 1.0 < width / height < 2.0 and width >= 4 * 256
    assert notes == [
        "total: level2 not shown: its map correlates 1.00 with level0's",
        "epistemic: level1 not shown: its map correlates 1.00 with level0's",
        "epistemic: level2 not shown: its map correlates 1.00 with level0's",
        "per-level epistemic maps not shown: the levels' maps agree",
    ]
    small, _ = case_figure(view, ["background", "rim", "cup"], "small", max_bytes=30_000)
    assert len(small) <= 30_000 < len(image)  # scaled down to its byte budget
    assert case_figure(CaseView(), [], "empty") is None


def test_error_map_marks_false_positives_and_negatives():
    truth = np.array([[0, 1, 1, 2]])
    pred = np.array([[1, 0, 1, 1]])
    assert error_labels(pred, truth).tolist() == [[1, 2, 0, 3]]
    rgba = mask_rgba(truth)
    assert rgba[0, 0, 3] == 0 and rgba[0, 1, 3] > 0 and not np.allclose(rgba[0, 1], rgba[0, 3])


def test_volumes_show_the_slice_with_most_foreground():
    labels = np.zeros((8, 8, 5), np.int64)
    labels[2:5, 2:5, 3] = 1
    labels[3, 3, 1] = 1
    assert choose_slice(labels, 5) == 3
    assert choose_slice(np.zeros((8, 8, 5)), 5) == 2 and choose_slice(None, 7) == 3


def test_display_image_scales_grey_and_colour_to_unit_range():
    grey = display_image(np.arange(100, dtype=np.float32).reshape(1, 10, 10) * 7)
    colour = display_image(np.random.default_rng(0).normal(size=(3, 6, 6)).astype(np.float32))
    assert grey.shape == (10, 10) and colour.shape == (6, 6, 3)
    for picture in (grey, colour):
        assert picture.min() == pytest.approx(0.0) and picture.max() == pytest.approx(1.0)


def test_display_image_shows_an_8_bit_picture_as_acquired():
    fundus = np.zeros((3, 4, 4), np.float32)
    fundus[0], fundus[1], fundus[2] = 200, 90, 30  # red-orange, as a fundus camera records it
    picture = display_image(fundus)
    np.testing.assert_allclose(picture[0, 0], [200 / 255, 90 / 255, 30 / 255], rtol=1e-6)
    volume = np.linspace(-1000, 3000, 2000, dtype=np.float32).reshape(1, 10, 20, 10)
    windowed = display_image(volume)  # CT-like numbers: windowed on the whole volume
    assert windowed.shape == (10, 20, 10) and windowed.min() == 0 and windowed.max() == 1


def test_load_view_reads_a_volume_prediction_folder(tmp_path):
    import nibabel as nib

    labels = np.zeros((6, 7, 4), np.uint8)
    labels[1:4, 1:5, 2] = 1
    affine = np.eye(4)
    nib.save(nib.Nifti1Image(labels, affine), tmp_path / "c1_mask.nii.gz")
    total = np.random.default_rng(0).random((6, 7, 4)).astype(np.float32)
    nib.save(nib.Nifti1Image(total, affine), tmp_path / "c1_total.nii.gz")
    nib.save(nib.Nifti1Image(total, affine), tmp_path / "c1_level0_total.nii.gz")
    info = {"maps": ["total"], "levels": ["level0", "level1"]}
    view = load_view(tmp_path, info, "c1")
    assert view.where == "slice 3 of 4" and view.image is None and view.truth is None
    assert view.pred.shape == (7, 6) and view.pred.sum() == 12  # rotated slice 2
    assert set(view.maps) == {"total"} and set(view.levels["total"]) == {"level0"}
    assert case_figure(view, ["bg", "organ"], "volume")[0].startswith(JPEG_MAGIC)


def test_colour_bars_name_their_quantity_and_unit():
    from seguq.report.case_figure import map_quantity

    assert map_quantity("total uncertainty") == "predictive entropy (nats)"
    assert map_quantity("level1 epistemic") == "mutual information (nats)"
    assert map_quantity("variance uncertainty") == "variance of the foreground probability"
