"""`--overwrite` removes only what seguq wrote, never the input, the model or the data, and a
failed or killed replacement leaves the previous result in place."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from seguq.cli import main
from seguq.engine.output_folder import MARKER, OutputFolder, read_marker, register_outputs
from seguq.errors import SeguqError


def _images(folder, n=2):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(
            folder / f"img{i}.png"
        )
    return folder


def _predict(run, inp, out, *extra):
    argv = ["predict", "--model", run, "--input", inp, "--out", out, "--no-progress", *extra]
    return [str(a) for a in argv]


def test_predict_into_its_own_input_folder_is_refused(trained_run, tmp_path, cli_error, unchanged):
    images = _images(tmp_path / "images")
    with unchanged(images):
        err = cli_error(_predict(trained_run, images, images, "--overwrite"))
    assert f"--out {images}" in err and "not a folder seguq wrote" in err


def test_predict_into_the_model_folder_is_refused(trained_run, tmp_path, cli_error, unchanged):
    images = _images(tmp_path / "images")
    with unchanged(trained_run):
        err = cli_error(_predict(trained_run, images, trained_run, "--overwrite"))
    assert "holds a seguq run, not a prediction" in err


def test_a_marked_folder_holding_the_input_is_refused(trained_run, tmp_path, cli_error, unchanged):
    pred = tmp_path / "pred"
    assert main(_predict(trained_run, _images(tmp_path / "images"), pred)) == 0
    inner = _images(pred / "more")  # a user's images inside a seguq prediction folder
    with unchanged(inner):
        err = cli_error(_predict(trained_run, inner, pred, "--overwrite"))
    assert "holds the input" in err


def test_train_onto_the_data_folder_is_refused(tiny_manifest, tmp_path, cli_error, unchanged):
    data = tmp_path / "data"
    shutil.copytree(tiny_manifest.parent, data)
    with unchanged(data):
        err = cli_error(["train", "--data", data / "manifest.csv", "--out", data, "--overwrite"])
    assert f"--out {data}" in err and "not a folder seguq wrote" in err
    # Even when the data sits in a folder seguq wrote, replacing it is refused.
    (data / MARKER).write_text('{"kind": "run", "complete": true}')
    with unchanged(data / "manifest.csv", data / "images"):
        err = cli_error(["train", "--data", data / "manifest.csv", "--out", data, "--overwrite"])
    assert "holds the data" in err


def test_failed_overwrite_keeps_the_previous_result(trained_run, tmp_path, unchanged):
    images = _images(tmp_path / "images", n=3)
    pred = tmp_path / "pred"
    assert main(_predict(trained_run, images, pred)) == 0
    (images / "img2.png").write_bytes(b"not a png")  # the third case fails half-way
    with unchanged(pred):
        assert main(_predict(trained_run, images, pred, "--overwrite", "--samples", "2")) == 2
    assert not (pred.parent / ".pred.seguq-previous").exists()


def test_overwrite_replaces_a_seguq_folder_and_drops_the_old_copy(trained_run, tmp_path):
    images = _images(tmp_path / "images")
    pred = tmp_path / "pred"
    assert main(_predict(trained_run, images, pred)) == 0
    assert main(_predict(trained_run, images, pred, "--overwrite", "--samples", "2")) == 0
    assert read_marker(pred)["complete"] and read_marker(pred)["settings"]["samples"] == 2
    assert not (tmp_path / ".pred.seguq-previous").exists()


def test_a_killed_overwrite_is_undone_at_the_next_claim(tmp_path):
    old = OutputFolder(tmp_path / "out", "prediction")
    old.claim(overwrite=False)
    (old.path / "result.txt").write_text("old")
    old.complete()
    new = OutputFolder(tmp_path / "out", "prediction")
    new.claim(overwrite=True)  # the old result now waits beside it
    (new.path / "result.txt").write_text("half-written")
    # ... the process is killed here; the next command that claims the folder restores it.
    again = OutputFolder(tmp_path / "out", "prediction")
    again.recover()
    assert (tmp_path / "out" / "result.txt").read_text() == "old"
    assert not again.previous.exists()


def test_unmarked_or_other_kind_folders_are_never_replaced(tmp_path):
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(SeguqError, match="not a folder seguq wrote"):
        OutputFolder(foreign, "run").claim(overwrite=True)
    assert (foreign / "thesis.tex").read_text() == "precious"
    with pytest.raises(SeguqError, match="folder exists and is not empty"):
        OutputFolder(foreign, "run").claim(overwrite=False)


def test_overwrite_refuses_a_folder_holding_files_seguq_did_not_write(tmp_path):
    first = OutputFolder(tmp_path / "out", "prediction")
    first.claim(overwrite=False)
    (first.path / "case_mask.png").write_text("seguq's")
    first.complete()
    assert read_marker(first.path)["entries"] == ["case_mask.png"]
    register_outputs(first.path, ["eval.json"])  # written there later by seguq (evaluate)
    (first.path / "eval.json").write_text("{}")
    (first.path / "notes.txt").write_text("the user's")
    with pytest.raises(SeguqError, match=r"holds notes\.txt, which seguq did not write"):
        OutputFolder(first.path, "prediction").claim(overwrite=True)
    assert (first.path / "notes.txt").read_text() == "the user's"
    # resuming keeps the user's file foreign; what the resumed run adds is seguq's
    again = OutputFolder(first.path, "prediction")
    again.reuse()
    (again.path / "case2_mask.png").write_text("seguq's")
    again.complete()
    entries = read_marker(again.path)["entries"]
    assert entries == ["case2_mask.png", "case_mask.png", "eval.json"]
    (first.path / "notes.txt").unlink()
    OutputFolder(first.path, "prediction").claim(overwrite=True)  # now only seguq's files
    assert not (first.path / "case_mask.png").exists()
