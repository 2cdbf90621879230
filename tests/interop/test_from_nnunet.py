"""`seguq from-nnunet`: an nnU-Net ensemble's folds as S samples, written as a seguq prediction
folder that `evaluate` and `report` read; `predict --format nnunet` writes nnU-Net's files."""

import csv
import importlib.util
import json
import pickle

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from seguq.cli import main
from seguq.engine.evaluate import evaluate
from seguq.engine.from_nnunet import from_nnunet
from seguq.engine.predict import predict

AFFINE = np.array([[0.0, 0.0, -2.0, 30.0], [1.2, 0.0, 0.0, -4.0], [0, 1.5, 0, 7.0], [0, 0, 0, 1]])


def _dataset(root, n=3):
    """imagesTs/<id>_0000.nii.gz with labelsTs/<id>.nii.gz, and a manifest of both."""
    rng = np.random.default_rng(0)
    (root / "imagesTs").mkdir(parents=True)
    (root / "labelsTs").mkdir()
    rows = ["id,image,mask"]
    images = {}
    for i in range(n):
        label = np.zeros((12, 10, 8), np.uint8)
        label[3 : 8 + i, 2:7, 2:6] = 1
        image = np.clip(0.7 * label + rng.normal(0.15, 0.1, label.shape), 0, 1).astype(np.float32)
        name = f"case_{i:03d}"
        nib.save(nib.Nifti1Image(image, AFFINE), root / "imagesTs" / f"{name}_0000.nii.gz")
        nib.save(nib.Nifti1Image(label, AFFINE), root / "labelsTs" / f"{name}.nii.gz")
        rows.append(f"{name},imagesTs/{name}_0000.nii.gz,labelsTs/{name}.nii.gz")
        images[name] = image
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return images


def _folds(root, images, powers=(1.0, 1.5, 0.7)):
    """One nnU-Net prediction folder per fold: probabilities in nnU-Net's (K, Z, Y, X) order."""
    folders = []
    for f, power in enumerate(powers):
        folder = root / f"fold_{f}"
        folder.mkdir(parents=True)
        for name, image in images.items():
            fg = image**power
            probs = np.stack([1 - fg, fg]).transpose(0, 3, 2, 1).astype(np.float32)
            np.savez_compressed(folder / f"{name}.npz", probabilities=probs)
            props = {"spacing": [1.5, 1.2, 2.0], "sitk_stuff": {"spacing": (1.2, 1.5, 2.0)}}
            (folder / f"{name}.pkl").write_bytes(pickle.dumps(props))
        (folder / "dataset.json").write_text(
            json.dumps({"labels": {"background": 0, "hippocampus": 1}, "file_ending": ".nii.gz"})
        )
        folders.append(folder)
    return folders


def test_folds_become_a_prediction_folder_that_evaluate_and_report_read(tmp_path, unchanged):
    images = _dataset(tmp_path / "data")
    folds = _folds(tmp_path / "nnunet", images)
    with unchanged(tmp_path / "data", tmp_path / "nnunet"):
        result = from_nnunet(
            folds, tmp_path / "data" / "imagesTs", tmp_path / "pred", progress=False
        )
    out = result.out_dir
    mask = nib.load(out / "case_001_mask.nii.gz")
    np.testing.assert_allclose(mask.affine, AFFINE)
    fg = np.mean([images["case_001"] ** p for p in (1.0, 1.5, 0.7)], axis=0)
    probs = np.asarray(nib.load(out / "case_001_probs.nii.gz").dataobj)
    np.testing.assert_allclose(probs[..., 1], fg, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(mask.dataobj), (fg > 0.5).astype(np.uint8))
    assert (out / "case_001_total.nii.gz").is_file()
    rows = list(csv.DictReader((out / "scores.csv").open()))
    assert [r["id"] for r in rows] == ["case_000", "case_001", "case_002"]
    assert {r["samples"] for r in rows} == {"3"} and rows[0]["p_value"] == ""
    info = json.loads((out / "prediction.json").read_text())
    assert info["method"] == "nnunet-ensemble" and info["class_names"][1] == "hippocampus"

    evaluation = evaluate(
        out, tmp_path / "data" / "manifest.csv", tmp_path / "e.json", progress=False
    )
    assert evaluation["cases"] == 3 and evaluation["segmentation"]["mean_dice"] > 0.5
    assert main(["report", str(out), "--evaluation", str(tmp_path / "e.json")]) == 0
    assert (out / "report.html").stat().st_size > 1000


def test_validation_folders_give_p_values(tmp_path):
    """Each reference case predicted by one fold: scores are means of one-fold scores."""
    images = _dataset(tmp_path / "data", n=3)
    folds = _folds(tmp_path / "nnunet", images)
    validation = []
    for f, name in enumerate(images):  # fold f validated case f
        folder = tmp_path / "val" / f"fold_{f}"
        folder.mkdir(parents=True)
        for suffix in (".npz", ".pkl"):
            (folder / f"{name}{suffix}").write_bytes((folds[f] / f"{name}{suffix}").read_bytes())
        validation.append(folder)
    out = from_nnunet(
        folds,
        tmp_path / "data" / "imagesTs",
        tmp_path / "pred",
        reference=validation,
        ood_alpha=0.3,
        progress=False,
    ).out_dir
    rows = list(csv.DictReader((out / "scores.csv").open()))
    assert all(0 < float(r["p_value"]) <= 1 for r in rows)
    assert {r["ood"] for r in rows} <= {"true", "false"}
    info = json.loads((out / "prediction.json").read_text())
    assert info["ood"]["reference_cases"] == 3
    assert info["ood"]["image_score"] == "mean of one-fold scores"


def test_missing_fold_case_and_image_are_one_line_errors(tmp_path, cli_error):
    images = _dataset(tmp_path / "data", n=2)
    folds = _folds(tmp_path / "nnunet", images)
    base = ["from-nnunet", "--images", tmp_path / "data" / "imagesTs", "--out", tmp_path / "p"]
    (folds[1] / "case_001.npz").unlink()
    err = cli_error([*base, "--folds", *folds])
    assert "fold_1: no case_001.npz" in err
    err = cli_error([*base, "--folds", tmp_path / "nope"])
    assert "does not exist" in err
    (tmp_path / "data" / "imagesTs" / "case_000_0000.nii.gz").unlink()
    err = cli_error([*base, "--folds", folds[0]])
    assert "no image for case 'case_000'" in err and not (tmp_path / "p").exists()
    err = cli_error(["from-nnunet", "--images", folds[0], "--out", folds[0], "--folds", folds[0]])
    assert "fold_0" in err and (folds[0] / "case_001.npz").is_file()


def test_predict_format_nnunet_round_trips(trained_run, tiny_manifest, tmp_path):
    """seguq's own nnU-Net files, read back by from-nnunet, give the same masks."""
    folders = []
    for seed in (0, 1):
        folder = tmp_path / f"pred{seed}"
        predict(
            trained_run,
            tiny_manifest,
            folder,
            domains=["site1"],
            output_format="nnunet",
            seed=seed,
            progress=False,
        )
        folders.append(folder)
    names = sorted(p.name for p in folders[0].glob("*.npz"))
    assert names and (folders[0] / "plans.json").is_file()
    dataset = json.loads((folders[0] / "dataset.json").read_text())
    assert dataset["file_ending"] == ".png" and dataset["labels"]["background"] == 0
    with np.load(folders[0] / names[0]) as archive:
        assert archive["probabilities"].shape[:2] == (len(dataset["labels"]), 1)
    back = from_nnunet(folders, tiny_manifest, tmp_path / "back", progress=False).out_dir
    case_id = names[0][: -len(".npz")]
    ours = np.asarray(Image.open(folders[0] / f"{case_id}_mask.png"))
    np.testing.assert_array_equal(np.asarray(Image.open(back / f"{case_id}_mask.png")), ours)
    if importlib.util.find_spec("nnunetv2") and importlib.util.find_spec("skimage"):
        from nnunetv2.ensembling.ensemble import ensemble_folders

        ensemble_folders([str(f) for f in folders], str(tmp_path / "ens"), num_processes=1)
        theirs = np.asarray(Image.open(tmp_path / "ens" / f"{case_id}.png"))
        np.testing.assert_array_equal(theirs, ours)


def test_evaluate_names_what_to_do_for_an_ood_source(tmp_path):
    images = _dataset(tmp_path / "data", n=2)
    out = from_nnunet(
        _folds(tmp_path / "nnunet", images),
        tmp_path / "data" / "imagesTs",
        tmp_path / "p",
        progress=False,
    ).out_dir
    from seguq.errors import SeguqError

    with pytest.raises(SeguqError, match="from-nnunet"):
        evaluate(
            out,
            tmp_path / "data" / "manifest.csv",
            tmp_path / "e.json",
            ood_data=tmp_path / "data" / "imagesTs",
            progress=False,
        )
