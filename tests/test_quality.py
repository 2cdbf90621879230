"""Predicted Dice and case-level failure detection."""

from __future__ import annotations

import pytest
import torch

from seguq.metrics.failure import failure_detection
from seguq.quality import predicted_dice


def _samples(agreement: float, s: int = 6) -> torch.Tensor:
    """S binary samples of a 20 x 20 square; a share `1 - agreement` of them is shifted."""
    probs = torch.zeros(s, 2, 32, 32)
    for i in range(s):
        shift = 0 if i < round(agreement * s) else 6
        probs[i, 1, 6 + shift : 26 + shift, 6:26] = 1
    probs[:, 0] = 1 - probs[:, 1]
    return probs


def test_predicted_dice_is_monotone_in_sample_agreement():
    values = [predicted_dice(_samples(a)) for a in (1.0, 0.67, 0.5)]
    assert values[0] == pytest.approx(1.0) and values[0] > values[1] > values[2]


def test_one_sample_uses_its_confidence():
    confident = torch.zeros(1, 2, 8, 8)
    confident[0, 1, :4] = 1
    confident[0, 0] = 1 - confident[0, 1]
    hesitant = confident.clone()
    hesitant[0, 1, :4] = 0.6
    hesitant[0, 0] = 1 - hesitant[0, 1]
    assert predicted_dice(confident) == pytest.approx(1.0)
    assert predicted_dice(hesitant) < 0.8
    empty = torch.zeros(1, 2, 8, 8)
    empty[0, 0] = 1
    assert predicted_dice(empty) == 1.0


def test_failure_detection_on_hand_cases():
    dice = [0.95, 0.9, 0.4, 0.3]
    perfect = failure_detection({"good": [0.1, 0.2, 0.8, 0.9], "bad": [0.9, 0.8, 0.2, 0.1]}, dice)
    assert perfect["failed"] == 2 and perfect["cases"] == 4
    assert perfect["scores"]["good"]["auroc"] == 1.0 and perfect["scores"]["bad"]["auroc"] == 0.0
    assert perfect["scores"]["good"]["e_aurc"] == pytest.approx(0.0)
    assert perfect["scores"]["good"]["aurc"] < perfect["scores"]["bad"]["aurc"]
    none_failed = failure_detection({"x": [1, 2]}, [0.9, 0.95])
    assert none_failed["scores"]["x"]["auroc"] is None
