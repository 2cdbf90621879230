"""The conformal OOD flag: exact p-values, ties, the refusal with too few reference cases."""

from __future__ import annotations

import csv
import json
import logging

import numpy as np
import pytest

from seguq.data.maps import MAP_ENDINGS, find_output, read_map
from seguq.engine.ood_reference import OODReference, cases_needed, conformal_p_value
from seguq.engine.predict import predict


def test_p_values_on_hand_cases():
    reference = np.array([0.1, 0.2, 0.2, 0.4])
    assert conformal_p_value(reference, 0.5) == pytest.approx(1 / 5)  # above every score
    assert conformal_p_value(reference, 0.0) == pytest.approx(5 / 5)  # below every score
    assert conformal_p_value(reference, 0.2) == pytest.approx(4 / 5)  # ties count against it
    assert conformal_p_value(reference, 0.3) == pytest.approx(2 / 5)


def test_cases_needed_for_a_flag():
    assert cases_needed(0.05) == 19 and cases_needed(0.1) == 9 and cases_needed(0.5) == 1
    small = OODReference([0.1] * 18, "mean", "total")
    assert not small.can_flag(0.05) and small.can_flag(0.1)
    assert OODReference([0.1] * 19, "mean", "total").can_flag(0.05)


def test_the_false_alarm_rate_is_at_most_alpha_on_exchangeable_cases():
    rng = np.random.default_rng(0)
    alpha, flagged = 0.1, []
    for _ in range(400):
        reference, new = rng.normal(size=29), rng.normal()
        flagged.append(conformal_p_value(reference, new) < alpha)
    assert np.mean(flagged) <= alpha + 0.03


def _rows(folder):
    return list(csv.DictReader((folder / "scores.csv").open()))


def test_predict_refuses_the_flag_with_too_few_reference_cases(
    trained_run, tiny_manifest, tmp_path, caplog
):
    with caplog.at_level(logging.WARNING):
        predict(trained_run, tiny_manifest, tmp_path / "p", splits=["test"], progress=False)
    messages = [r.getMessage() for r in caplog.records]
    assert any("needs at least 19 in-distribution reference cases" in m for m in messages)
    rows = _rows(tmp_path / "p")
    assert all(r["ood"] == "" and 0 < float(r["p_value"]) <= 1 for r in rows)
    info = json.loads((tmp_path / "p" / "prediction.json").read_text())
    assert info["ood"]["flag"] is False and info["ood"]["alpha"] == 0.05


def test_calibration_data_gives_a_flag(trained_run, tiny_manifest, tmp_path):
    from PIL import Image

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(foreign / "noise.png")
    Image.fromarray(np.full((64, 64, 3), 255, np.uint8)).save(foreign / "white.png")
    out = predict(
        trained_run,
        foreign,
        tmp_path / "p",
        calibration_data=tiny_manifest,
        ood_alpha=0.1,
        progress=False,
    ).out_dir
    rows = {r["id"]: r for r in _rows(out)}
    assert all(r["ood"] in ("true", "false") for r in rows.values())
    reference = json.loads((out / "prediction.json").read_text())["ood"]
    assert reference["flag"] is True and reference["reference_cases"] >= 9
    assert str(tiny_manifest) in reference["reference"]
    n = reference["reference_cases"]
    assert all(float(r["p_value"]) >= 1 / (n + 1) - 1e-9 for r in rows.values())


@pytest.mark.parametrize("method", ["deterministic", "mc_dropout", "hue", "prob_unet"])
def test_an_obviously_foreign_image_gets_the_smallest_p_value(
    tiny_manifest, tmp_path, make_config, method
):
    """Every method gets the feature-space components: a uniform image, unlike every fundus
    image of the training sites, scores above all the in-distribution reference cases."""
    from PIL import Image

    from seguq.engine.train import train

    config = make_config(tiny_manifest, method=method, epochs=1, steps_per_epoch=2)
    run = train(config, tmp_path / "run").run_dir
    assert (run / "feature_reference.npz").is_file()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    gradient = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (64, 1))
    Image.fromarray(np.stack([gradient] * 3, -1)).save(foreign / "gradient.png")
    out = predict(
        run,
        foreign,
        tmp_path / "p",
        maps=["total", "feature"],
        calibration_data=tiny_manifest.parent / "site_calibration.csv",
        ood_alpha=0.1,
        progress=False,
    ).out_dir
    (row,) = _rows(out)
    # and every method's encoder levels give a per-pixel feature distance on the input's grid
    distances = read_map(find_output(out, "gradient", "feature", MAP_ENDINGS), 2)
    assert distances.shape == (64, 64) and np.isfinite(distances).all() and distances.min() > 0
    n = json.loads((out / "prediction.json").read_text())["ood"]["reference_cases"]
    assert float(row["p_value"]) == pytest.approx(1 / (n + 1)) and row["ood"] == "true"
    assert {"uncertainty", "feature_level0"} <= set(row)


def test_a_torn_reference_file_is_a_one_line_error_naming_it(tmp_path):
    from seguq.engine.ood_reference import load_reference
    from seguq.errors import SeguqError

    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "ood_reference.json").write_text('{"scores": [0.1, ')
    with pytest.raises(SeguqError, match=r"ood_reference\.json: not a readable OOD reference"):
        load_reference(tmp_path / "checkpoints" / "best.pt")
