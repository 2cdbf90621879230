import math

import numpy as np
import pytest
import torch

from seguq.errors import SeguqError
from seguq.metrics import (
    AmbiguityAccumulator,
    annotator_disagreement,
    generalised_energy_distance,
    hungarian_matched_iou,
    pairwise_iou,
    uncertainty_disagreement_ncc,
)

# Three 2x2 binary masks: |A| = 2, |B| = 1, |C| = 0.
A = np.array([[1, 1], [0, 0]])
B = np.array([[1, 0], [0, 0]])
C = np.zeros((2, 2), dtype=int)


def test_pairwise_iou_2x2_by_hand():
    iou = pairwise_iou(np.stack([A, B, C]), np.stack([A, B, C]), num_classes=2)
    # A vs B: 1 / 2; A or B vs empty: 0; empty vs empty: 1 (no foreground present).
    expected = np.array([[1, 0.5, 0], [0.5, 1, 0], [0, 0, 1]])
    assert np.allclose(iou, expected)


def test_iou_averages_only_the_foreground_classes_present():
    a = np.array([[[1, 2], [0, 0]]])
    b = np.array([[[1, 0], [0, 0]]])
    # class 1: IoU 1; class 2 present in a only: IoU 0 -> mean 0.5. A third class, absent in
    # both, does not count.
    assert pairwise_iou(a, b, num_classes=4)[0, 0] == pytest.approx(0.5)


def test_ged_of_identical_sets_is_zero():
    masks = np.stack([A, B, C])
    assert generalised_energy_distance(masks, masks, 2) == pytest.approx(0.0, abs=1e-12)
    assert generalised_energy_distance(torch.tensor(masks), torch.tensor(masks), 2) == 0.0


def test_ged_of_one_sample_and_one_annotation_is_twice_their_distance():
    assert generalised_energy_distance(A[None], B[None], 2) == pytest.approx(2 * (1 - 0.5))
    assert generalised_energy_distance(C[None], C[None], 2) == 0.0  # d(empty, empty) = 0


def test_ged_by_hand_for_two_samples_and_one_annotation():
    # d(A, B) = 0.5, d(C, B) = 1, d(A, C) = 1: 2 * (0.5 + 1) / 2 - (0 + 1 + 1 + 0) / 4 - 0
    assert generalised_energy_distance(np.stack([A, C]), B[None], 2) == pytest.approx(1.0)


def test_hungarian_matched_iou():
    masks = np.stack([A, B, C])
    assert hungarian_matched_iou(masks, masks[::-1].copy(), 2) == pytest.approx(1.0)
    # N = 2, M = 1 -> both replicated to 2: A-B (0.5) and C-B (0) -> 0.25.
    assert hungarian_matched_iou(np.stack([A, C]), B[None], 2) == pytest.approx(0.25)
    # N = 2, M = 3 -> lcm 6: samples A, B three times each; annotations A, B, C twice each.
    # Best: A-A twice, B-B twice (IoU 1), the other A and B to the two C (IoU 0) -> 4 / 6.
    value = hungarian_matched_iou(np.stack([A, B]), masks, 2)
    assert value == pytest.approx(4 / 6)


def test_disagreement_map_and_ncc():
    annotations = np.array([[[1, 1], [0, 0]], [[1, 0], [0, 0]], [[1, 0], [1, 0]]])
    disagreement = annotator_disagreement(annotations)
    assert np.allclose(disagreement, [[0, 1 / 3], [1 / 3, 0]])
    assert uncertainty_disagreement_ncc(disagreement, annotations) == pytest.approx(1.0)
    assert uncertainty_disagreement_ncc(-disagreement, annotations) == pytest.approx(-1.0)
    assert uncertainty_disagreement_ncc(3 * disagreement + 2, annotations) == pytest.approx(1.0)
    assert math.isnan(uncertainty_disagreement_ncc(np.full((2, 2), 0.1), annotations))
    assert math.isnan(uncertainty_disagreement_ncc(disagreement, annotations[:1]))  # one rater


def test_accumulator_averages_cases_and_skips_nan():
    masks = np.stack([A, B])
    accumulator = AmbiguityAccumulator(num_classes=2)
    first = accumulator.update(masks, masks, uncertainty=annotator_disagreement(masks))
    assert first == {"ged": pytest.approx(0.0), "hm_iou": pytest.approx(1.0), "ncc": 1.0}
    accumulator.update(A[None], B[None])  # no uncertainty: NCC NaN
    summary = accumulator.compute()
    assert summary["ged"]["mean"] == pytest.approx(0.5) and summary["ged"]["n"] == 2
    assert summary["hm_iou"]["mean"] == pytest.approx(0.75)
    assert summary["ncc"] == {"mean": 1.0, "std": 0.0, "n": 1, "n_skipped": 1}
    accumulator.reset()
    assert math.isnan(accumulator.compute()["ged"]["mean"])


def test_bad_input_is_refused():
    with pytest.raises(SeguqError, match="spatial shape"):
        generalised_energy_distance(A[None], np.zeros((1, 3, 3), dtype=int), 2)
    with pytest.raises(SeguqError, match="class indices must be in"):
        hungarian_matched_iou(A[None] * 2, B[None], 2)
    with pytest.raises(SeguqError, match="integer"):
        generalised_energy_distance(A[None].astype(float), B[None], 2)
    with pytest.raises(SeguqError, match="must match"):
        uncertainty_disagreement_ncc(np.zeros((3, 3)), A[None])


def test_pixel_chunks_give_the_same_iou_as_a_direct_computation(monkeypatch):
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 3, (3, 5, 7)), rng.integers(0, 3, (2, 5, 7))

    def direct(x, y):
        scores = [((x == k) & (y == k)).sum() / ((x == k) | (y == k)).sum() for k in (1, 2)]
        return np.mean(scores)

    expected = np.array([[direct(x, y) for y in b] for x in a])
    assert np.allclose(pairwise_iou(a, b, 3), expected)
    monkeypatch.setattr("seguq.metrics.ambiguity.PIXEL_CHUNK", 4)
    assert np.allclose(pairwise_iou(a, b, 3), expected)
