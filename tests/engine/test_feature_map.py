"""The `feature` map end to end: fitted at the end of training, written by `seguq predict --maps
feature` on the input's grid, the same in memory, refused (one line) for a run without its
statistics, which `refit_feature_maps` adds."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
from PIL import Image

import seguq
from seguq.cli import main
from seguq.data.maps import MAP_ENDINGS, find_output, read_map
from seguq.engine.predict import parse_maps
from seguq.errors import SeguqError


def _host_with_a_patch(tiny_manifest, folder):
    """A site1 image (in distribution) with a 24 x 24 square of noise pasted in; the square."""
    with tiny_manifest.open(newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["domain"] == "site1")
    image = np.array(Image.open(tiny_manifest.parent / row["image"]).convert("RGB"))
    square = np.zeros(image.shape[:2], bool)
    square[8:32, 30:54] = True
    noise = np.random.default_rng(0).integers(0, 255, (24, 24, 3), dtype=np.uint8)
    image[square] = noise.reshape(-1, 3)
    folder.mkdir()
    Image.fromarray(image).save(folder / "patched.png")
    return folder / "patched.png", square


def test_predict_writes_the_map_and_it_finds_pasted_content(
    trained_run, tiny_manifest, tmp_path, capsys
):
    assert (trained_run / "feature_map_reference.npz").is_file()
    image, square = _host_with_a_patch(tiny_manifest, tmp_path / "in")
    out = tmp_path / "pred"
    args = ["predict", "--model", trained_run, "--input", image.parent, "--out", out]
    args += ["--maps", "total,feature", "--threads", "1", "--no-progress"]
    assert main([str(a) for a in args]) == 0, capsys.readouterr().err
    assert json.loads((out / "prediction.json").read_text())["maps"] == ["total", "feature"]
    values = read_map(find_output(out, "patched", "feature", MAP_ENDINGS), 2)
    assert values.shape == square.shape
    assert values[square].mean() > 1.5 * values[~square].mean()
    memory = seguq.Predictor(trained_run, maps=["feature"]).predict(image)
    assert list(memory.maps) == ["feature"]
    assert np.allclose(memory.maps["feature"], values, rtol=2e-3, atol=2e-3)  # float16 file


def test_a_run_without_the_statistics_is_refused_until_refitted(
    trained_run, tiny_manifest, tmp_path, cli_error
):
    run = tmp_path / "old-run"
    shutil.copytree(trained_run, run)
    (run / "feature_map_reference.npz").unlink()
    args = ["predict", "--model", run, "--input", tiny_manifest, "--out", tmp_path / "p"]
    message = cli_error([*args, "--maps", "total,feature"])
    assert "feature_map_reference.npz" in message and "refit_feature_maps" in message
    assert not (tmp_path / "p").exists()
    seguq.refit_feature_maps(run)
    refitted = np.load(run / "feature_map_reference.npz")
    fitted = np.load(trained_run / "feature_map_reference.npz")
    with refitted as again, fitted as first:
        assert sorted(again.files) == sorted(first.files)
        for key in first.files:  # the same seeded positions as training drew
            assert np.allclose(again[key], first[key], rtol=1e-5, atol=1e-6), key
    with pytest.raises(SeguqError, match="already has feature_map_reference.npz"):
        seguq.refit_feature_maps(run)


def test_the_map_needs_an_encoder():
    assert parse_maps("total,feature,total") == ["total", "feature"]
    with pytest.raises(SeguqError, match="unknown map 'feature'"):
        parse_maps("feature", feature=False)  # from-nnunet: no encoder to ask


def test_a_failed_fit_leaves_the_trained_run_without_the_map(
    tiny_manifest, make_config, tmp_path, monkeypatch, caplog
):
    from seguq.engine.train import train
    from seguq.feature_maps import FeatureMapReference

    def refuse(rows):
        raise SeguqError("feature maps: level 2 has 1 training positions")

    monkeypatch.setattr(FeatureMapReference, "fit", staticmethod(refuse))
    run = tmp_path / "run"
    train(make_config(tiny_manifest, epochs=1, steps_per_epoch=1), run)
    assert (run / "checkpoints" / "best.pt").is_file() and (run / "ood_reference.json").is_file()
    assert not (run / "feature_map_reference.npz").exists()
    assert "no feature_map_reference.npz (feature maps: level 2 has 1" in caplog.text
