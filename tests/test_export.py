"""ONNX export: onnxruntime reproduces torch's probabilities (deterministic and HUE samples with
the random numbers as inputs), in 2D and 3D, at sizes other than the example's."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from seguq.engine.checkpoint import load_method, resolve_model
from seguq.engine.train import train

ort = pytest.importorskip("onnxruntime")


def _volumes(folder):
    import nibabel as nib

    (folder / "imagesTr").mkdir(parents=True)
    (folder / "labelsTr").mkdir()
    rng = np.random.default_rng(0)
    training = []
    for i in range(3):
        label = np.zeros((16, 20, 12), np.uint8)
        label[4:12, 6:14, 3:9] = 1
        image = (label + rng.normal(0, 0.3, label.shape)).astype(np.float32)
        nib.save(nib.Nifti1Image(image, np.eye(4)), folder / "imagesTr" / f"v{i}_0000.nii.gz")
        nib.save(nib.Nifti1Image(label, np.eye(4)), folder / "labelsTr" / f"v{i}.nii.gz")
        training.append({"image": f"./imagesTr/v{i}.nii.gz", "label": f"./labelsTr/v{i}.nii.gz"})
    meta = {"labels": {"0": "background", "1": "box"}, "training": training}
    (folder / "dataset.json").write_text(json.dumps(meta))
    return folder


@pytest.mark.parametrize("dims", [2, 3])
def test_hue_exports_both_graphs_and_onnxruntime_matches_torch(
    dims, tiny_manifest, tmp_path, make_config, capsys
):
    from seguq.cli import main
    from seguq.export import noise_for, read_metadata

    config = make_config(tiny_manifest, method="hue", epochs=1, steps_per_epoch=1)
    config.net.widths = [4, 8, 16]
    if dims == 3:
        config.data.source = str(_volumes(tmp_path / "msd"))
        config.data.train_domains = []
        config.data.dims, config.data.patch_size, config.data.batch_size = 3, [16, 16, 8], 2
    run = train(config, tmp_path / "run").run_dir
    out = tmp_path / "hue.onnx"
    assert main(["export", "--model", str(run), "--out", str(out), "--samples", "3"]) == 0
    assert "hue.samples.onnx" in capsys.readouterr().out
    method = load_method(resolve_model(run))
    shape = (2, 3, 36, 44) if dims == 2 else (1, 1, 20, 16, 12)  # not the example's size
    x = torch.randn(*shape)
    deterministic = ort.InferenceSession(str(out))
    got = deterministic.run(None, {"image": x.numpy()})[0]
    with torch.no_grad():
        expected = torch.softmax(method.logits(x).float() / method.temperature, 1).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
    samples = ort.InferenceSession(str(tmp_path / "hue.samples.onnx"))
    noise = noise_for(method, shape, 3, seed=4)
    got = samples.run(None, {"image": x.numpy(), **noise})[0]
    given = {name: torch.from_numpy(values) for name, values in noise.items()}
    with torch.no_grad():
        logits = method.logit_samples(x, 3, noise=given).float()
    np.testing.assert_allclose(
        got, torch.softmax(logits / method.temperature, 2).numpy(), atol=1e-4
    )
    assert got.shape == (3, *shape[:1], 3 if dims == 2 else 2, *shape[2:])
    info = read_metadata(out)
    assert info["method"] == "hue" and set(info["noise"]) == set(noise)


def test_export_refuses_to_replace_a_file(trained_run, tmp_path, cli_error):
    target = tmp_path / "m.onnx"
    target.write_text("keep")
    assert "file exists" in cli_error(["export", "--model", trained_run, "--out", target])
    assert target.read_text() == "keep"
    assert "expected an .onnx file" in cli_error(
        ["export", "--model", trained_run, "--out", tmp_path / "m.pt"]
    )


def test_deterministic_run_exports_and_onnxruntime_matches_torch(trained_run, tmp_path):
    from seguq.export import export_onnx

    (out,) = export_onnx(trained_run, tmp_path / "det.onnx")
    method = load_method(resolve_model(trained_run))
    x = torch.randn(1, 3, 52, 40)
    got = ort.InferenceSession(str(out)).run(None, {"image": x.numpy()})[0]
    with torch.no_grad():
        expected = torch.softmax(method.logits(x).float() / method.temperature, 1).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_mc_dropout_samples_take_the_keep_masks_as_inputs(tiny_manifest, tmp_path, make_config):
    from seguq.export import export_onnx, noise_for

    config = make_config(tiny_manifest, method="mc_dropout", epochs=1, steps_per_epoch=1)
    run = train(config, tmp_path / "run").run_dir
    _, samples_path = export_onnx(run, tmp_path / "mc.onnx", samples=4)
    method = load_method(resolve_model(run))
    x = torch.randn(1, 3, 40, 48)
    noise = noise_for(method, tuple(x.shape), 4, seed=1)
    got = ort.InferenceSession(str(samples_path)).run(None, {"image": x.numpy(), **noise})[0]
    given = {name: torch.from_numpy(values) for name, values in noise.items()}
    with torch.no_grad():
        logits = method.logit_samples(x, 4, noise=given).float()
    expected = torch.softmax(logits / method.temperature, 2).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert np.abs(got[0] - got[1]).max() > 1e-3  # the masks differ, so the samples do
