"""The `msd` source kind: an MSD folder as a manifest of its volumes (in place), split by volume."""

import csv
import json

import nibabel as nib
import numpy as np
import pytest

from seguq.benchmark.msd_split import msd_split
from seguq.benchmark.prepare import prepare_source
from seguq.errors import SeguqError


def make_msd(root, count=10):
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    training = []
    for i in range(count):
        name = f"case_{i:03d}.nii.gz"
        volume = np.full((4, 5, 6), i, dtype=np.int16)
        nib.save(nib.Nifti1Image(volume, np.eye(4)), root / "imagesTr" / name)
        nib.save(
            nib.Nifti1Image((volume > 3).astype(np.uint8), np.eye(4)), root / "labelsTr" / name
        )
        training.append({"image": f"./imagesTr/{name}", "label": f"./labelsTr/{name}"})
    (root / "dataset.json").write_text(json.dumps({"training": training}))
    return root


def rows(manifest):
    with manifest.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_seeded_split_by_volume_in_place(tmp_path):
    root = make_msd(tmp_path / "Task_msd")
    assert msd_split(root, tmp_path / "a", test_fraction=0.3, seed=1) == 10
    first = rows(tmp_path / "a" / "manifest.csv")
    assert [r["id"] for r in first] == [f"case_{i:03d}" for i in range(10)]
    assert sum(r["split"] == "test" for r in first) == 3
    assert {r["domain"] for r in first} == {"Task_msd"}
    assert all(
        r["image"] == str((root / "imagesTr" / f"{r['id']}.nii.gz").resolve()) for r in first
    )
    assert not list((tmp_path / "a").glob("*.nii.gz"))  # nothing copied
    msd_split(root, tmp_path / "b", test_fraction=0.3, seed=1)
    assert rows(tmp_path / "b" / "manifest.csv") == first
    msd_split(root, tmp_path / "c", test_fraction=0.3, seed=2)
    other = [r["split"] for r in rows(tmp_path / "c" / "manifest.csv")]
    assert other != [r["split"] for r in first]


def test_the_protocol_source_kind_prepares_it(tmp_path):
    make_msd(tmp_path / "data" / "hip")
    spec = {"path": "hip", "kind": "msd", "test_fraction": 0.2}
    manifest = prepare_source("hip", spec, tmp_path / "data", tmp_path / "work", None, None)
    assert sum(r["split"] == "test" for r in rows(manifest)) == 2


def test_bad_folders_are_named(tmp_path):
    with pytest.raises(SeguqError, match="no dataset.json"):
        msd_split(tmp_path, tmp_path / "out")
    root = make_msd(tmp_path / "msd", count=3)
    with pytest.raises(SeguqError, match=r"test_fraction must lie in \(0, 1\)"):
        msd_split(root, tmp_path / "out", test_fraction=1.0)
    (root / "labelsTr" / "case_001.nii.gz").unlink()
    with pytest.raises(SeguqError, match="case_001.nii.gz, which does not exist"):
        msd_split(root, tmp_path / "out")
