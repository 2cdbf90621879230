"""Every method trains a few steps in 3D and predicts volumes with the input's geometry."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from seguq.config import RunConfig
from seguq.engine.predict import predict
from seguq.engine.train import train
from seguq.methods import method_names


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    """Four small anisotropic MSD volumes with an oblique affine."""
    folder = tmp_path_factory.mktemp("msd3d")
    rng = np.random.default_rng(0)
    (folder / "imagesTr").mkdir()
    (folder / "labelsTr").mkdir()
    affine = np.array(
        [[0.0, -1.2, 0.0, 10.0], [0.9, 0.0, 0.0, -4.0], [0.0, 0.0, 2.5, 7.0], [0, 0, 0, 1]]
    )
    training = []
    for i in range(4):
        shape = (22 + i, 18, 12)
        grid = np.indices(shape)
        centre = np.array(shape) // 2
        label = (sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)) < 20).astype(np.uint8)
        image = (label * 2.0 + rng.normal(0, 0.5, shape)).astype(np.float32)
        nib.save(nib.Nifti1Image(image, affine), folder / "imagesTr" / f"v{i}_0000.nii.gz")
        nib.save(nib.Nifti1Image(label, affine), folder / "labelsTr" / f"v{i}.nii.gz")
        training.append({"image": f"./imagesTr/v{i}.nii.gz", "label": f"./labelsTr/v{i}.nii.gz"})
    meta = {"labels": {"0": "background", "1": "ball"}, "modality": {"0": "MRI"}}
    (folder / "dataset.json").write_text(json.dumps({**meta, "training": training}))
    return folder


def _config(folder, method: str) -> RunConfig:
    config = RunConfig()
    config.data.source = str(folder)
    config.data.dims = 3
    config.data.patch_size = [16, 16, 8]
    config.data.batch_size = 2
    config.data.rotation = 15.0
    config.data.scaling = [0.9, 1.1]
    config.net.widths = [4, 8]
    config.method.name = method
    config.method.members = 2
    config.train.epochs = 1
    config.train.steps_per_epoch = 2
    config.train.progress = False
    return config


@pytest.mark.parametrize("method", method_names())
def test_every_method_trains_and_predicts_in_3d(volumes, tmp_path, method):
    run = train(_config(volumes, method), tmp_path / "run").run_dir
    per_level = method in ("hue", "phiseg")
    out = predict(
        run,
        volumes / "imagesTr" / "v3_0000.nii.gz",
        tmp_path / "pred",
        samples=2,
        maps=["total", "epistemic", "feature"],
        per_level=per_level,
        progress=False,
    ).out_dir
    source = nib.load(volumes / "imagesTr" / "v3_0000.nii.gz")
    mask = nib.load(out / "v3_0000_mask.nii.gz")
    probs = nib.load(out / "v3_0000_probs.nii.gz")
    total = nib.load(out / "v3_0000_total.nii.gz")
    feature = nib.load(out / "v3_0000_feature.nii.gz")
    assert mask.shape == source.shape == (25, 18, 12) and probs.shape == (25, 18, 12, 2)
    assert total.shape == feature.shape == source.shape
    for image in (mask, probs, total, feature):
        assert np.allclose(image.affine, source.affine)
        assert image.header.get_zooms()[:3] == source.header.get_zooms()
    assert np.allclose(np.asarray(probs.dataobj).sum(-1), 1.0, atol=1e-4)
    if per_level:
        levels = sorted(p.name for p in out.glob("v3_0000_level*_total.nii.gz"))
        assert levels and all(nib.load(out / name).shape == source.shape for name in levels)


def test_a_3d_volume_larger_than_the_patch_goes_through_sliding_windows(volumes, tmp_path):
    config = _config(volumes, "deterministic")
    config.data.patch_size = [8, 8, 8]
    run = train(config, tmp_path / "run").run_dir
    out = predict(run, volumes, tmp_path / "pred", progress=False).out_dir
    assert len(list(out.glob("*_mask.nii.gz"))) == 4
    mask = nib.load(out / "v0_mask.nii.gz")
    assert mask.shape == (22, 18, 12)
