import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance

from seguq.errors import SeguqError
from seguq.metrics.segmentation import (
    aggregate_segmentation_scores,
    assd,
    dice,
    hd95,
    iou,
    segmentation_scores,
)


def test_dice_iou_2x2():
    pred = np.array([[1, 0], [1, 1]])
    gt = np.array([[1, 1], [0, 1]])
    # |A| = 3, |G| = 3, |A & G| = 2, |A | G| = 4
    assert dice(pred, gt) == pytest.approx(2 * 2 / 6)
    assert iou(pred, gt) == pytest.approx(2 / 4)
    assert dice(pred, gt, class_index=0) == pytest.approx(0.0)  # background: {1,0} vs {0,2}


def test_dice_iou_4x4_multiclass_and_torch_input():
    gt = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 0, 0], [2, 2, 0, 0]])
    pred = torch.tensor([[0, 1, 1, 1], [0, 0, 1, 1], [2, 0, 0, 0], [0, 0, 0, 0]])
    # class 1: pred 5, gt 4, overlap 4; class 2: pred 1, gt 4, overlap 1
    assert dice(pred, gt, 1) == pytest.approx(8 / 9)
    assert iou(pred, gt, 1) == pytest.approx(4 / 5)
    assert dice(pred, gt, 2) == pytest.approx(2 / 5)
    assert iou(pred, gt, 2) == pytest.approx(1 / 4)
    scores = segmentation_scores(pred, gt, num_classes=3)
    assert set(scores) == {1, 2}
    assert set(scores[1]) == {"dice", "iou", "hd95", "assd"}
    assert scores[1]["dice"] == pytest.approx(8 / 9)
    assert scores[2]["iou"] == pytest.approx(1 / 4)


def test_one_pixel_shift_gives_distance_one():
    pred = np.zeros((5, 5), dtype=np.int64)
    gt = np.zeros((5, 5), dtype=np.int64)
    pred[2, 2] = 1
    gt[2, 3] = 1
    assert hd95(pred, gt) == pytest.approx(1.0)
    assert assd(pred, gt) == pytest.approx(1.0)
    # the shift is along axis 1; a spacing of 2 there doubles the distance
    assert hd95(pred, gt, spacing=(1.0, 2.0)) == pytest.approx(2.0)
    assert assd(pred, gt, spacing=(1.0, 2.0)) == pytest.approx(2.0)


def test_square_shifted_by_one_column_by_hand():
    # Edges are the 8 border pixels of each 3x3 square. Going from one edge set to the other,
    # 4 pixels lie on both edges (distance 0) and 4 are one step away (distance 1):
    # ASSD = 4 / 8 = 0.5 both ways; the 95th percentile of [0,0,0,0,1,1,1,1] is 1.
    pred = np.zeros((6, 6), dtype=np.int64)
    gt = np.zeros((6, 6), dtype=np.int64)
    pred[1:4, 1:4] = 1
    gt[1:4, 2:5] = 1
    assert hd95(pred, gt) == pytest.approx(1.0)
    assert assd(pred, gt) == pytest.approx(0.5)
    assert hd95(pred, pred) == 0.0 and assd(pred, pred) == 0.0


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_distances_agree_with_monai_in_3d():
    rng = np.random.default_rng(0)
    gt = np.zeros((12, 12, 12), dtype=np.int64)
    gt[2:9, 3:10, 2:8] = 1
    pred = gt.copy()
    pred[rng.random(gt.shape) < 0.08] = 1
    pred[4:6, 4:6, 2:4] = 0
    spacing = (1.0, 0.5, 2.0)
    onehot_pred = torch.from_numpy(np.stack([pred == 0, pred == 1])[None].astype(np.float32))
    onehot_gt = torch.from_numpy(np.stack([gt == 0, gt == 1])[None].astype(np.float32))
    expected_hd = compute_hausdorff_distance(onehot_pred, onehot_gt, percentile=95, spacing=spacing)
    expected_asd = compute_average_surface_distance(
        onehot_pred, onehot_gt, symmetric=True, spacing=spacing
    )
    assert hd95(pred, gt, spacing=spacing) == pytest.approx(expected_hd.item(), rel=1e-5)
    assert assd(pred, gt, spacing=spacing) == pytest.approx(expected_asd.item(), rel=1e-5)


def test_empty_mask_conventions():
    empty = np.zeros((4, 4), dtype=np.int64)
    full = np.zeros((4, 4), dtype=np.int64)
    full[1:3, 1:3] = 1
    # both empty
    assert dice(empty, empty) == 1.0 and iou(empty, empty) == 1.0
    assert hd95(empty, empty) == 0.0 and assd(empty, empty) == 0.0
    # exactly one empty, either way round
    for pred, gt in [(empty, full), (full, empty)]:
        assert dice(pred, gt) == 0.0 and iou(pred, gt) == 0.0
        assert math.isnan(hd95(pred, gt)) and math.isnan(assd(pred, gt))
    scores = segmentation_scores(full, empty, num_classes=3)
    assert scores[1]["dice"] == 0.0 and math.isnan(scores[1]["hd95"])
    assert scores[2] == {"dice": 1.0, "iou": 1.0, "hd95": 0.0, "assd": 0.0}


def test_aggregate_skips_nan_and_counts_them():
    cases = [
        {1: {"dice": 0.5, "hd95": 2.0}},
        {1: {"dice": 0.0, "hd95": math.nan}},
        {1: {"dice": 1.0, "hd95": 4.0}},
    ]
    summary = aggregate_segmentation_scores(cases)
    assert summary[1]["dice"]["mean"] == pytest.approx(0.5)
    assert summary[1]["dice"]["n_skipped"] == 0
    assert summary[1]["hd95"]["mean"] == pytest.approx(3.0)
    assert summary[1]["hd95"]["n"] == 2 and summary[1]["hd95"]["n_skipped"] == 1
    all_nan = aggregate_segmentation_scores([{1: {"assd": math.nan}}])
    assert math.isnan(all_nan[1]["assd"]["mean"]) and all_nan[1]["assd"]["n_skipped"] == 1


def test_bad_input_raises():
    a = np.zeros((4, 4), dtype=np.int64)
    a[1, 1] = 1
    with pytest.raises(SeguqError, match="shape"):
        dice(a, np.zeros((4, 5)))
    with pytest.raises(SeguqError, match="spacing"):
        hd95(a, a, spacing=(1.0, 1.0, 1.0))
    with pytest.raises(SeguqError, match="spacing"):
        segmentation_scores(a, a, num_classes=2, spacing=(1.0, 0.0))
    with pytest.raises(SeguqError, match="num_classes"):
        segmentation_scores(a, a, num_classes=1)


label_maps = arrays(np.int64, (5, 6), elements=st.integers(0, 2))


@settings(max_examples=50, deadline=None, derandomize=True)
@given(label_maps, label_maps)
def test_dice_and_iou_are_symmetric_and_bounded(a, b):
    for c in (1, 2):
        assert dice(a, b, c) == pytest.approx(dice(b, a, c))
        assert iou(a, b, c) == pytest.approx(iou(b, a, c))
        assert 0.0 <= iou(a, b, c) <= dice(a, b, c) <= 1.0
        assert dice(a, a, c) == 1.0
