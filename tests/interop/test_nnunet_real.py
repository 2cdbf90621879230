"""A round trip on two real MSD hippocampus volumes (read in place, skipped when absent): fold
files made as nnU-Net makes them (its own SimpleITK reader where nnunetv2 is importable, else
the documented layout), `from-nnunet`, then `evaluate` and `report` on the result."""

import importlib.util
import json
import pickle

import nibabel as nib
import numpy as np
from scipy.ndimage import gaussian_filter

from seguq.cli import main
from seguq.engine.from_nnunet import from_nnunet

CASES = ("hippocampus_001", "hippocampus_003")


def _nnunet_order(image_path):
    """The image's array and properties as nnU-Net's default reader gives them."""
    if importlib.util.find_spec("SimpleITK") and importlib.util.find_spec("nnunetv2"):
        from nnunetv2.imageio.simpleitk_reader_writer import SimpleITKIO

        data, properties = SimpleITKIO().read_images([str(image_path)])
        return data[0], properties
    image = nib.load(image_path)
    zooms = [float(z) for z in image.header.get_zooms()]
    return np.asarray(image.dataobj).transpose(2, 1, 0), {"spacing": zooms[::-1]}


def _fold_files(folder, case_id, label_zyx, sigma, properties):
    """Smoothed one-hot labels: the probabilities of a fold that is nearly right."""
    onehot = np.stack([label_zyx == k for k in range(3)]).astype(np.float32)
    probs = np.stack([gaussian_filter(c, sigma) for c in onehot])
    probs /= probs.sum(0, keepdims=True)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / f"{case_id}.npz", probabilities=probs)
    shape = list(label_zyx.shape)
    properties = properties | {
        "shape_before_cropping": shape,
        "bbox_used_for_cropping": [[0, s] for s in shape],
        "shape_after_cropping_and_before_resampling": shape,
    }
    (folder / f"{case_id}.pkl").write_bytes(pickle.dumps(properties))


def test_hippocampus_round_trip(shared_data, tmp_path):
    root = shared_data / "hippocampus_msd"
    folds = [tmp_path / f"fold_{f}" for f in range(3)]
    rows = ["id,image,mask"]
    for case_id in CASES:
        image_path = root / "imagesTr" / f"{case_id}.nii.gz"
        label_path = root / "labelsTr" / f"{case_id}.nii.gz"
        _, properties = _nnunet_order(image_path)
        label_zyx, _ = _nnunet_order(label_path)
        for f, folder in enumerate(folds):
            _fold_files(folder, case_id, np.rint(label_zyx), 0.6 + 0.4 * f, properties)
        rows.append(f"{case_id},{image_path},{label_path}")
    (tmp_path / "cases.csv").write_text("\n".join(rows) + "\n")

    out = from_nnunet(
        folds,
        tmp_path / "cases.csv",
        tmp_path / "pred",
        maps=["total", "epistemic"],
        progress=False,
    ).out_dir
    for case_id in CASES:
        source = nib.load(root / "imagesTr" / f"{case_id}.nii.gz")
        for name in ("mask", "total", "epistemic"):
            written = nib.load(out / f"{case_id}_{name}.nii.gz")
            np.testing.assert_array_equal(written.affine, source.affine)
            assert written.shape == source.shape
        mask = np.asarray(nib.load(out / f"{case_id}_mask.nii.gz").dataobj)
        label = np.asarray(nib.load(root / "labelsTr" / f"{case_id}.nii.gz").dataobj)
        assert (mask == label).mean() > 0.97
    evaluation = tmp_path / "eval.json"
    assert (
        main(
            [
                "evaluate",
                "--pred",
                str(out),
                "--data",
                str(tmp_path / "cases.csv"),
                "--out",
                str(evaluation),
                "--no-progress",
            ]
        )
        == 0
    )
    assert json.loads(evaluation.read_text())["segmentation"]["mean_dice"] > 0.8
    assert main(["report", str(out), "--evaluation", str(evaluation)]) == 0
