import numpy as np
import pytest

from seguq.errors import SeguqError
from seguq.metrics.ood import fpr_at_tpr, ood_scores, ood_threshold


def test_fpr95_hand_case():
    out_scores = np.arange(1.0, 21.0)  # 20 OOD cases: 1..20
    # 95% of 20 = 19 cases: the threshold is the 19th highest OOD score, 2.0
    # (not 1.0, which a floating 0.95 * 20 = 19.000000000000004 rounded up would give)
    in_scores = [0.5, 1.5, 3.0, 10.0, 30.0]  # 3.0, 10.0, 30.0 are >= 2.0
    assert fpr_at_tpr(in_scores, out_scores) == pytest.approx(3 / 5)
    assert ood_scores(in_scores, out_scores)["fpr95"] == pytest.approx(3 / 5)
    # requiring every OOD case moves the threshold to 1.0: 1.5 joins
    assert fpr_at_tpr(in_scores, out_scores, tpr=1.0) == pytest.approx(4 / 5)


def test_perfect_and_useless_detectors():
    perfect = ood_scores([0.1, 0.2, 0.3], [0.7, 0.8])
    assert perfect == {"auroc": 1.0, "aupr": 1.0, "fpr95": 0.0}
    useless = ood_scores([0.5] * 4, [0.5] * 4)
    assert useless["auroc"] == 0.5 and useless["fpr95"] == 1.0
    assert useless["aupr"] == pytest.approx(0.5)
    inverted = ood_scores([0.7, 0.8], [0.1, 0.2])
    assert inverted["auroc"] == 0.0 and inverted["fpr95"] == 1.0


def test_ood_threshold_is_in_distribution_quantile():
    assert ood_threshold(np.arange(101.0), 0.95) == pytest.approx(95.0)


def test_bad_input_raises():
    with pytest.raises(SeguqError):
        ood_scores([], [1.0])
    with pytest.raises(SeguqError):
        fpr_at_tpr([1.0], [2.0], tpr=0.0)
    with pytest.raises(SeguqError):
        ood_threshold([])
