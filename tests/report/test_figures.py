"""Charts and case figures from hand-made data: PNG bytes, curves, slices."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from seguq.report.case_figure import case_figure, mask_rgba
from seguq.report.case_view import CaseView, choose_slice, display_image, load_view
from seguq.report.charts import (
    reliability_figure,
    reliability_points,
    retention_figure,
    roc_curve,
    roc_figure,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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


def test_case_figure_draws_masks_maps_and_level_rows():
    truth = np.zeros((32, 40), np.int64)
    truth[8:20, 10:30] = 1
    truth[12:16, 15:25] = 2
    view = CaseView(
        image=np.random.default_rng(0).random((32, 40, 3)).astype(np.float32),
        truth=truth,
        pred=np.roll(truth, 2, axis=1),
        maps={"total": np.random.default_rng(1).random((32, 40)), "epistemic": np.zeros((32, 40))},
        levels={"total": {f"level{i}": np.full((32, 40), i / 3) for i in range(3)}},
    )
    png = case_figure(view, ["background", "rim", "cup"], "method — set/case")
    width, height = _size(png)
    assert width > 2 * height  # one wide row of five panels over a row of three levels
    assert case_figure(CaseView(), [], "empty") is None
    rgba = mask_rgba(truth)
    assert (
        rgba[0, 0, 3] == 0 and rgba[10, 12, 3] > 0 and not np.allclose(rgba[10, 12], rgba[14, 20])
    )


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
    assert case_figure(view, ["bg", "organ"], "volume").startswith(PNG_MAGIC)


def test_colour_bars_name_their_quantity_and_unit():
    from seguq.report.case_figure import map_quantity

    assert map_quantity("total uncertainty") == "predictive entropy (nats)"
    assert map_quantity("level1 epistemic") == "mutual information (nats)"
    assert map_quantity("variance uncertainty") == "variance of the foreground probability"
