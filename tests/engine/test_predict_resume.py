"""`seguq predict` is reproducible under its seed, and an interrupted prediction resumes."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from seguq.engine import predict as predict_module
from seguq.engine.predict import predict
from seguq.engine.train import train
from seguq.errors import SeguqError


@pytest.fixture(scope="module")
def dropout_run(tmp_path_factory, tiny_manifest, make_config):
    out = tmp_path_factory.mktemp("runs") / "mc"
    train(make_config(tiny_manifest, method="mc_dropout", epochs=1, steps_per_epoch=2), out)
    return out


def _outputs(folder) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.suffix in (".png", ".npy", ".csv")
    }


def _run(model, manifest, out, **extra):
    # One thread: bit-identical outputs need the same thread count (float sums are reordered
    # by threads), and the default count follows the machine's load.
    options = {"samples": 4, "maps": ["total", "epistemic"], "splits": ["test"], "threads": 1}
    options |= extra
    return predict(model, manifest, out, progress=False, **options)


def test_same_seed_same_outputs_other_seed_other_samples(dropout_run, tiny_manifest, tmp_path):
    _run(dropout_run, tiny_manifest, tmp_path / "a")
    _run(dropout_run, tiny_manifest, tmp_path / "b")
    _run(dropout_run, tiny_manifest, tmp_path / "c", seed=1)
    a, b, c = (_outputs(tmp_path / name) for name in "abc")
    assert a == b
    assert a.keys() == c.keys() and any(a[k] != c[k] for k in a if k.endswith("epistemic.npy"))
    assert json.loads((tmp_path / "c" / "prediction.json").read_text())["seed"] == 1


def test_an_interrupted_prediction_resumes_where_it_stopped(
    dropout_run, tiny_manifest, tmp_path, monkeypatch
):
    whole = tmp_path / "whole"
    _run(dropout_run, tiny_manifest, whole)
    out = tmp_path / "out"
    real = predict_module._predict_case
    calls = []

    def stop_at_the_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(predict_module, "_predict_case", stop_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        _run(dropout_run, tiny_manifest, out)
    monkeypatch.setattr(predict_module, "_predict_case", real)
    first = sorted(out.glob("*_mask.png"))
    assert len(first) == 2 and not (out / "scores.csv").exists()
    stamps = {p: p.stat().st_mtime_ns for p in first}
    with pytest.raises(SeguqError, match="other settings"):
        _run(dropout_run, tiny_manifest, out, samples=8)
    result = _run(dropout_run, tiny_manifest, out)  # the same call again: resumes
    assert {p: p.stat().st_mtime_ns for p in first} == stamps  # finished cases kept
    assert result.cases == len(list(whole.glob("*_mask.png")))
    assert _outputs(out) == _outputs(whole)
    with pytest.raises(SeguqError, match="already holds this prediction"):
        _run(dropout_run, tiny_manifest, out)
    with pytest.raises(SeguqError, match="no interrupted prediction"):
        _run(dropout_run, tiny_manifest, tmp_path / "fresh", resume=True)


def test_a_run_without_ood_reference_warns_once(trained_run, tiny_manifest, tmp_path, caplog):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / "ood_reference.json").unlink()
    with caplog.at_level(logging.WARNING):
        _run(run, tiny_manifest, tmp_path / "pred", samples=None)
    warnings = [r for r in caplog.records if "no ood_reference.json" in r.getMessage()]
    assert len(warnings) == 1
    import csv

    rows = list(csv.DictReader((tmp_path / "pred" / "scores.csv").open()))
    assert rows[0]["ood"] == "" and rows[0]["p_value"] == ""  # no reference: no flag


def test_2d_nifti_probabilities_put_classes_on_the_fourth_axis(trained_run, tmp_path):
    import nibabel as nib

    image = np.random.default_rng(0).random((40, 36, 3)).astype(np.float32)
    affine = np.diag([0.5, 0.8, 7.0, 1.0])
    source = tmp_path / "slice.nii.gz"
    nib.save(nib.Nifti1Image(image.mean(-1), affine), source)
    predict(trained_run, source, tmp_path / "pred", progress=False)
    probs = nib.load(tmp_path / "pred" / "slice_probs.nii.gz")
    mask = nib.load(tmp_path / "pred" / "slice_mask.nii.gz")
    assert mask.shape == (40, 36) and probs.shape == (40, 36, 1, 3)
    assert probs.header.get_zooms()[:3] == pytest.approx((0.5, 0.8, 1.0))
    assert np.allclose(probs.affine, affine) and np.allclose(mask.affine, affine)
    assert np.allclose(np.asarray(probs.dataobj).sum(-1), 1.0, atol=1e-5)


def test_a_one_case_manifest_warns_that_it_validates_on_its_training_case(
    tmp_path, make_config, caplog
):
    from PIL import Image

    Image.fromarray(np.full((32, 32), 90, np.uint8)).save(tmp_path / "i.png")
    Image.fromarray((np.eye(32) * 255).astype(np.uint8)).save(tmp_path / "m.png")
    (tmp_path / "manifest.csv").write_text("id,image,mask\nonly,i.png,m.png\n")
    config = make_config(tmp_path / "manifest.csv", epochs=1, steps_per_epoch=1)
    config.data.train_domains = []
    with caplog.at_level(logging.WARNING):
        train(config, tmp_path / "run")
    assert any("only one labelled training case" in r.getMessage() for r in caplog.records)
