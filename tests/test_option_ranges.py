"""Every numeric option and config value is range-checked where it enters: one line, exit 2,
and no run folder left behind."""

from __future__ import annotations

import math

import pytest

from seguq.config import RunConfig, load_config
from seguq.errors import SeguqError


def _train(manifest, run, *options):
    return ["train", "--data", manifest, "--out", run, "--no-progress", *options]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--epochs", "-1"], "--epochs"),
        (["--epochs", "0"], "--epochs"),
        (["--steps-per-epoch", "-5"], "--steps-per-epoch"),
        (["--batch-size", "0"], "--batch-size"),
        (["--lr", "-1"], "--lr"),
        (["--lr", "nan"], "--lr"),
        (["--members", "0"], "--members"),
        (["--threads", "-2"], "--threads"),
        (["--patch-size", "4", "4"], "--patch-size"),
        (["--seed", "-3"], "--seed"),
        (["--devices", "0"], "--devices"),
    ],
)
def test_bad_training_options(tiny_manifest, tmp_path, cli_error, options, named):
    run = tmp_path / "run"
    err = cli_error(_train(tiny_manifest, run, *options))
    assert f"argument {named}" in err
    assert not run.exists()


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--samples", "0"], "--samples"),
        (["--save-samples", "-1"], "--save-samples"),
        (["--threads", "0"], "--threads"),
        (["--ood-alpha", "1"], "--ood-alpha"),
        (["--seed", "x"], "--seed"),
    ],
)
def test_bad_prediction_options(trained_run, tiny_manifest, tmp_path, cli_error, options, named):
    out = tmp_path / "pred"
    argv = ["predict", "--model", trained_run, "--input", tiny_manifest, "--out", out, *options]
    assert f"argument {named}" in cli_error(argv)
    assert not out.exists()


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("net:\n  dropout: 2.0\n", "net.dropout"),
        ("train:\n  lr: .inf\n", "train.lr"),
        ("train:\n  epochs: 0\n", "train.epochs"),
        ("data:\n  batch_size: -4\n", "data.batch_size"),
        ("method:\n  members: 0\n", "method.members"),
        ("predict:\n  overlap: 1.5\n", "predict.overlap"),
        ("data:\n  label_map: 5\n", "data.label_map"),
        ("- a\n- list\n", "top level"),
    ],
)
def test_bad_config_values(tiny_manifest, tmp_path, cli_error, yaml_text, key):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text)
    run = tmp_path / "run"
    err = cli_error(_train(tiny_manifest, run, "--config", config))
    assert str(config) in err and key in err
    assert not run.exists()


def test_the_python_api_checks_too():
    with pytest.raises(SeguqError, match=r"train\.epochs must be an integer >= 1, got -1"):
        RunConfig.from_dict({"train": {"epochs": -1}})
    config = RunConfig()
    config.train.lr = math.nan
    from seguq.engine.train import train

    with pytest.raises(SeguqError, match=r"train\.lr must be a finite number > 0"):
        train(config, "/nonexistent/never-created")


def test_a_patch_far_larger_than_the_images_is_refused(tiny_manifest, tmp_path, cli_error):
    run = tmp_path / "run"
    err = cli_error(_train(tiny_manifest, run, "--patch-size", "4096", "4096", "--epochs", "1"))
    assert "data.patch_size [4096, 4096] is far larger than the largest training image" in err
    assert not run.exists()  # the folder it had claimed is removed again


@pytest.mark.parametrize(
    ("row", "cells"),
    [("c1,i.png,m.png,extra\n", 4), ("c1,i.png\n", 2)],
)
def test_ragged_manifest_rows_are_refused(tmp_path, cli_error, row, cells):
    from PIL import Image

    Image.new("L", (16, 16)).save(tmp_path / "i.png")
    Image.new("L", (16, 16)).save(tmp_path / "m.png")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("id,image,mask\nc0,i.png,m.png\n" + row)
    err = cli_error(_train(manifest, tmp_path / "run"))
    assert f"{manifest}: line 3 has {cells} cells, the header has 3 columns" in err


def test_defaults_pass_every_check(tmp_path):
    load_config(None)  # the default config is valid
    path = tmp_path / "run.yaml"
    path.write_text("train:\n  epochs: 3\n")
    assert load_config(path).train.epochs == 3
