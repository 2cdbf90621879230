"""The Python API: `seguq.train` with keyword overrides, `seguq.Predictor` in memory with the
command line's numbers, and the README's example, run as written."""

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import seguq
from seguq.data.io import read_image
from seguq.engine.predict import predict
from seguq.errors import SeguqError

README = Path(__file__).resolve().parents[1] / "README.md"


def _first_case(manifest, domain="site1"):
    with manifest.open() as handle:
        return next(r for r in csv.DictReader(handle) if r["domain"] == domain)


def test_predictor_gives_the_numbers_predict_writes(trained_run, tiny_manifest, tmp_path):
    folder = predict(
        trained_run,
        tiny_manifest,
        tmp_path / "pred",
        maps=["total", "epistemic"],
        domains=["site1"],
        seed=3,
        threads=1,  # bit-equal numbers need the same thread count
        map_dtype="float32",  # the Predictor's in-memory maps are float32
        progress=False,
    ).out_dir
    row = _first_case(tiny_manifest)
    image = tiny_manifest.parent / row["image"]
    predictor = seguq.Predictor(trained_run, maps=["total", "epistemic"], seed=3, threads=1)
    out = predictor.predict(image, case_id=row["id"])
    written = np.asarray(Image.open(folder / f"{row['id']}_mask.png"))
    np.testing.assert_array_equal(out.mask, written)
    np.testing.assert_allclose(out.maps["total"], np.load(folder / f"{row['id']}_total.npy"))
    with (folder / "scores.csv").open() as handle:
        scores = next(r for r in csv.DictReader(handle) if r["id"] == row["id"])
    assert out.scores["score"] == pytest.approx(float(scores["score"]), rel=1e-6)
    assert out.scores["p_value"] == pytest.approx(float(scores["p_value"]))
    assert out.scores["predicted_dice"] == pytest.approx(float(scores["predicted_dice"]))
    assert out.probabilities.shape == (3, *out.mask.shape)
    np.testing.assert_allclose(out.probabilities.sum(0), 1, atol=1e-5)

    raw, _ = read_image(image)  # the same image as an array: the same prediction
    again = predictor.predict(raw, case_id=row["id"])
    np.testing.assert_array_equal(again.mask, out.mask)
    np.testing.assert_allclose(again.maps["total"], out.maps["total"], atol=1e-6)


def test_predictor_refuses_a_wrong_array(trained_run):
    predictor = seguq.Predictor(trained_run)
    with pytest.raises(SeguqError, match=r"shape \(2, 32, 32\).*\(3, H, W\)"):
        predictor.predict(np.zeros((2, 32, 32), np.float32))
    with pytest.raises(SeguqError, match="NaN"):
        predictor.predict(np.full((3, 32, 32), np.nan, np.float32))


def test_train_takes_keyword_overrides(tiny_manifest, tmp_path):
    run = seguq.train(
        tiny_manifest,
        tmp_path / "run",
        plan=False,
        epochs=1,
        steps_per_epoch=2,
        patch_size=[32, 32],
        batch_size=4,
        widths=[8, 16],
        train_domains=["site1", "site2", "site3"],
    )
    config = (run.run_dir / "config.yaml").read_text()
    assert "widths:\n  - 8\n  - 16" in config or "widths: [8, 16]" in config
    with pytest.raises(SeguqError, match="no_such_option=: no config section"):
        seguq.train(tiny_manifest, tmp_path / "other", no_such_option=1)
    with pytest.raises(SeguqError, match="train=: expected a dict"):
        seguq.train(tiny_manifest, tmp_path / "other", train=3)


def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    block = re.search(r"## Python\n\n```python\n(.*?)```", README.read_text(), re.S)
    assert block, "README has no Python example"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGUQ_CACHE_DIR", str(tmp_path / "cache"))
    exec(compile(block.group(1), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "validation Dice" in printed and (tmp_path / "runs" / "hue" / "config.yaml").is_file()
