"""3D volumes: sliced for the 2D model, restacked with the input's affine, shape and header."""

import json

import nibabel as nib
import numpy as np

from seguq.engine.evaluate import evaluate
from seguq.engine.predict import predict
from seguq.engine.train import train


def _msd_folder(root, n=4):
    rng = np.random.default_rng(0)
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    affine = np.array([[1.5, 0, 0, -10], [0, 1.2, 0, 5], [0, 0, 2.0, 3], [0, 0, 0, 1]])
    training = []
    for i in range(n):
        label = np.zeros((20, 18, 6), np.uint8)
        label[5 + i : 12 + i, 4:12, 1:5] = 1
        image = rng.normal(0, 1, label.shape).astype(np.float32) + 3 * label
        nib.save(nib.Nifti1Image(image, affine), root / "imagesTr" / f"vol_{i:03d}.nii.gz")
        nib.save(nib.Nifti1Image(label, affine), root / "labelsTr" / f"vol_{i:03d}.nii.gz")
        training.append(
            {"image": f"./imagesTr/vol_{i:03d}.nii.gz", "label": f"./labelsTr/vol_{i:03d}.nii.gz"}
        )
    (root / "dataset.json").write_text(
        json.dumps(
            {
                "labels": {"0": "background", "1": "blob"},
                "modality": {"0": "MRI"},
                "training": training,
                "numTraining": n,
            }
        )
    )
    return affine


def test_volume_prediction_keeps_geometry(make_config, tmp_path):
    data = tmp_path / "msd"
    affine = _msd_folder(data)
    config = make_config(data, epochs=1)
    config.data.train_domains = []
    config.data.patch_size = [16, 16]
    run = train(config, tmp_path / "run").run_dir
    out = predict(
        run, data / "imagesTr", tmp_path / "pred", maps=["total", "feature"], progress=False
    ).out_dir
    mask = nib.load(out / "vol_000_mask.nii.gz")
    source = nib.load(data / "imagesTr" / "vol_000.nii.gz")
    np.testing.assert_allclose(mask.affine, affine)
    assert mask.shape == source.shape == (20, 18, 6)
    feature = nib.load(out / "vol_000_feature.nii.gz")  # a 2D model's slices stacked back
    assert feature.shape == source.shape and np.allclose(feature.affine, affine)
    assert mask.header.get_zooms() == source.header.get_zooms()
    probs = nib.load(out / "vol_000_probs.nii.gz")
    assert probs.shape == (20, 18, 6, 2)
    result = evaluate(out, data, tmp_path / "eval.json", progress=False)
    assert result["cases"] == 4 and 0 <= result["segmentation"]["mean_dice"] <= 1
