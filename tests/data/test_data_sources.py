"""Layouts turned into sources of cases, on files made in tmp_path."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from seguq.data.arrays import load_case
from seguq.data.sources import Source, load_source, parse_label_map
from seguq.errors import SeguqError

BINARY = np.array([[0, 255, 0], [255, 255, 0]], np.uint8)


def _manifest(root: Path, write, header: str, rows: list[str]) -> Path:
    for row in rows:
        for cell in row.split(","):
            if cell.endswith(".png"):
                write.png(root / cell, BINARY)
    return write.text(root / "manifest.csv", "\n".join([header, *rows]) + "\n")


def test_manifest_with_two_annotators(tmp_path, write):
    csv_path = _manifest(
        tmp_path,
        write,
        "id,domain,split,image,mask,mask_rater2,fov",
        [
            "a,siteA,train,img/a.png,m/a.png,,fov/a.png",
            "b,siteA,test,img/b.png,m/b.png,m2/b.png,fov/b.png",
            "c,siteB,test,img/c.png,,,",
        ],
    )
    for spec in (csv_path, tmp_path, str(csv_path)):
        source = load_source(spec)
        assert isinstance(source, Source) and source.layout == "manifest"
        assert source.root == tmp_path.absolute()
        assert [c.id for c in source.cases] == ["a", "b", "c"]
    a, b, c = source.cases
    assert a.masks == (tmp_path / "m/a.png",) and a.extra == {"fov": "fov/a.png"}
    assert b.masks == (tmp_path / "m/b.png", tmp_path / "m2/b.png")
    assert c.masks == () and c.mask is None
    assert (a.domain, a.split, b.split) == ("siteA", "train", "test")
    assert source.num_raters == 2 and source.domains == ["siteA", "siteB"]
    assert source.label_map == {0: 0, 255: 1}
    assert source.class_names == ("background", "class1") and source.num_classes == 2
    arrays = load_case(b, source)
    assert arrays.masks.shape == (2, 2, 3)
    np.testing.assert_array_equal(arrays.masks[1], BINARY // 255)


def test_manifest_label_map_inference_and_overrides(tmp_path, write):
    write.png(tmp_path / "i.png", BINARY)
    write.png(tmp_path / "empty.png", np.zeros((2, 3), np.uint8))
    write.png(tmp_path / "three.png", np.array([[0, 1, 2], [2, 1, 0]], np.uint8))
    write.text(tmp_path / "m.csv", "id,image,mask\nx,i.png,empty.png\ny,i.png,three.png\n")
    source = load_source(tmp_path / "m.csv")  # the first mask is empty: the second decides
    assert source.label_map == {0: 0, 1: 1, 2: 2}
    assert source.class_names == ("background", "class1", "class2")

    named = load_source(tmp_path / "m.csv", class_names=["bg", "a", "b"])
    assert named.class_names == ("bg", "a", "b")
    merged = load_source(tmp_path / "m.csv", label_map={0: 0, 1: 1, 2: 1})
    assert merged.num_classes == 2
    with pytest.raises(SeguqError, match="2 class names"):
        load_source(tmp_path / "m.csv", class_names=["bg", "a"])


def test_manifest_repeated_ids(tmp_path, write):
    write.png(tmp_path / "i.png", BINARY)
    header = "id,domain,image,mask"
    write.text(tmp_path / "sites.csv", f"{header}\n1,A,i.png,i.png\n1,B,i.png,i.png\n2,A,i.png,\n")
    ids = [c.id for c in load_source(tmp_path / "sites.csv").cases]
    assert ids == ["A_1", "B_1", "2"]  # ids repeated across domains are qualified
    write.text(tmp_path / "dup.csv", f"{header}\n1,A,i.png,i.png\n1,A,i.png,i.png\n")
    with pytest.raises(SeguqError, match=r"dup\.csv: line 3: duplicate id '1'"):
        load_source(tmp_path / "dup.csv")


@pytest.mark.parametrize("case_id", ["/tmp/x", "../x", "a/b", "a\\\\b", ".."])
def test_manifest_ids_that_are_not_file_names_are_refused(tmp_path, write, case_id):
    write.png(tmp_path / "i.png", BINARY)
    write.text(tmp_path / "m.csv", f"id,image,mask\nok,i.png,i.png\n{case_id},i.png,i.png\n")
    with pytest.raises(SeguqError, match=r"m\.csv: line 3: id .* is not a file name"):
        load_source(tmp_path / "m.csv")


def test_manifest_errors_name_the_file(tmp_path, write):
    write.png(tmp_path / "i.png", BINARY)
    write.text(tmp_path / "nomask.csv", "id,image\nx,i.png\n")
    with pytest.raises(SeguqError, match=r"nomask\.csv: missing column 'mask'"):
        load_source(tmp_path / "nomask.csv")
    write.text(tmp_path / "gone.csv", "id,image,mask\nx,i.png,gone.png\n")
    with pytest.raises(SeguqError) as error:
        load_source(tmp_path / "gone.csv")
    assert "gone.csv" in str(error.value) and str(tmp_path / "gone.png") in str(error.value)
    write.text(tmp_path / "none.csv", "id,image,mask\n")
    with pytest.raises(SeguqError, match="no cases"):
        load_source(tmp_path / "none.csv")


def test_msd_layout(tmp_path, write, rng):
    root = tmp_path / "Task04"
    cases = ["hip_001", "hip_003"]
    for case in cases:
        write.nifti(root / "imagesTr" / f"{case}.nii.gz", rng.random((4, 5, 3)).astype(np.float32))
        labels = rng.integers(0, 3, (4, 5, 3)).astype(np.uint8)
        write.nifti(root / "labelsTr" / f"{case}.nii.gz", labels)
    write.nifti(root / "imagesTs" / "hip_002.nii.gz", np.zeros((4, 5, 3), np.float32))
    write.text(root / "imagesTr" / "._hip_001.nii.gz", "macOS resource fork")
    dataset = {
        "labels": {"0": "background", "1": "anterior", "2": "posterior"},
        "training": [
            {"image": f"./imagesTr/{c}.nii.gz", "label": f"./labelsTr/{c}.nii.gz"} for c in cases
        ],
        "test": ["./imagesTs/hip_002.nii.gz"],
    }
    write.text(root / "dataset.json", json.dumps(dataset))
    source = load_source(root)
    assert source.layout == "msd" and source.label_map == {0: 0, 1: 1, 2: 2}
    assert source.class_names == ("background", "anterior", "posterior")
    assert [(c.id, c.split, len(c.masks)) for c in source.cases] == [
        ("hip_001", "train", 1),
        ("hip_003", "train", 1),
        ("hip_002", "test", 0),
    ]
    arrays = load_case(source.cases[0], source)
    assert arrays.image.shape == (1, 4, 5, 3) and arrays.masks.shape == (1, 4, 5, 3)


def test_nnunet_v2_layout_with_channels(tmp_path, write, rng):
    root = tmp_path / "Dataset001_X"
    for case in ("p1", "p2"):
        for channel in range(2):
            image = rng.random((3, 4, 2)).astype(np.float32)
            write.nifti(root / "imagesTr" / f"{case}_{channel:04d}.nii.gz", image)
        write.nifti(root / "labelsTr" / f"{case}.nii.gz", np.ones((3, 4, 2), np.uint8))
    write.text(root / "imagesTr" / ".DS_Store", "")
    dataset = {
        "channel_names": {"0": "T2", "1": "ADC"},
        "labels": {"background": 0, "zone": 1},
        "numTraining": 2,
        "file_ending": ".nii.gz",
    }
    write.text(root / "dataset.json", json.dumps(dataset))
    source = load_source(root)
    assert source.class_names == ("background", "zone") and source.label_map == {0: 0, 1: 1}
    assert [c.id for c in source.cases] == ["p1", "p2"]
    assert [p.name for p in source.cases[0].images] == ["p1_0000.nii.gz", "p1_0001.nii.gz"]
    arrays = load_case(source.cases[1], source)
    assert arrays.image.shape == (2, 3, 4, 2) and arrays.masks.shape == (1, 3, 4, 2)

    (root / "labelsTr" / "p2.nii.gz").unlink()
    with pytest.raises(SeguqError, match=r"dataset\.json: case 'p2': label file .*p2\.nii\.gz"):
        load_source(root)


def test_fundus_layout(tmp_path, write):
    mask = np.array([[255, 128], [0, 255]], np.uint8)
    for domain in ("Domain1", "Domain2"):
        for split in ("train", "test"):
            folder = tmp_path / domain / split / "ROIs"
            write.png(folder / "image" / "g1.png", np.zeros((2, 2, 3), np.uint8))
            write.png(folder / "mask" / "g1.png", np.stack([mask] * 3, -1))
    source = load_source(tmp_path)
    assert source.layout == "fundus" and source.domains == ["Domain1", "Domain2"]
    assert source.class_names == ("background", "disc_rim", "cup")
    assert len(source.cases) == 4 and {c.split for c in source.cases} == {"train", "test"}
    assert len({c.id for c in source.cases}) == 4
    np.testing.assert_array_equal(load_case(source.cases[0], source).masks[0], [[0, 1], [2, 0]])


def test_prostate_and_mnms_layouts(tmp_path, write):
    prostate = tmp_path / "prostate"
    for site in ("RUNMC", "BMC"):
        write.png(prostate / site / "train" / "image" / "00_00.png", np.zeros((2, 2), np.uint8))
        write.png(prostate / site / "train" / "mask" / "00_00.png", BINARY[:, :2])
    write.png(prostate / "BMC" / "test" / "image" / "00_00.png", np.zeros((2, 2), np.uint8))
    source = load_source(prostate)
    assert source.layout == "prostate" and source.domains == ["BMC", "RUNMC"]
    assert source.label_map == {255: 0, 0: 1} and source.class_names == ("background", "prostate")
    assert [c.id for c in source.cases] == [
        "BMC_test_00_00",
        "BMC_train_00_00",
        "RUNMC_train_00_00",
    ]
    assert source.cases[0].masks == ()  # no mask folder: unlabelled
    np.testing.assert_array_equal(load_case(source.cases[1], source).masks[0], [[1, 0], [0, 0]])

    mnms = tmp_path / "mnms"
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 0, 0] = rgb[1, 1, 2] = 255
    write.png(mnms / "vendorA" / "train" / "image" / "000001.png", np.zeros((2, 2), np.uint8))
    write.png(mnms / "vendorA" / "train" / "mask" / "000001.png", rgb)
    source = load_source(mnms)
    assert source.class_names == ("background", "LV", "MYO", "RV")
    np.testing.assert_array_equal(load_case(source.cases[0], source).masks[0], [[1, 0], [0, 3]])


def test_images_layout(tmp_path, write, rng):
    write.png(tmp_path / "imgs" / "b.png", np.zeros((2, 2), np.uint8))
    write.nifti(tmp_path / "imgs" / "a.nii.gz", np.zeros((2, 2, 2), np.float32))
    write.text(tmp_path / "imgs" / "notes.txt", "ignored")
    source = load_source(tmp_path / "imgs")
    assert source.layout == "images" and [c.id for c in source.cases] == ["a", "b"]
    assert source.num_raters == 0 and source.label_map == {} and source.num_classes == 0
    assert load_case(source.cases[1], source).masks is None

    single = load_source(tmp_path / "imgs" / "a.nii.gz", class_names=["bg", "fg"])
    assert [c.id for c in single.cases] == ["a"] and single.class_names == ("bg", "fg")

    for case in ("x", "y"):
        for channel in range(2):
            write.nifti(tmp_path / "ts" / f"{case}_{channel:04d}.nii.gz", np.zeros((2, 2, 2)))
    grouped = load_source(tmp_path / "ts")
    assert [(c.id, len(c.images)) for c in grouped.cases] == [("x", 2), ("y", 2)]


def test_unknown_and_empty_paths(tmp_path, write):
    with pytest.raises(SeguqError) as error:
        load_source(tmp_path / "nowhere")
    assert str(error.value) == f"{tmp_path / 'nowhere'}: does not exist"
    (tmp_path / "empty").mkdir()
    with pytest.raises(SeguqError, match=r"empty: the folder is empty"):
        load_source(tmp_path / "empty")
    write.text(tmp_path / "other" / "readme.txt", "x")
    with pytest.raises(SeguqError, match=r"other: not a known data layout"):
        load_source(tmp_path / "other")


def test_parse_label_map():
    assert parse_label_map("0:0,128:1,255:2") == {0: 0, 128: 1, 255: 2}
    assert parse_label_map(" 0 : 0 , 255 : 1 ") == {0: 0, 255: 1}
    for bad in ("", "0:0,x:1", "0-0", "0:0,0:1", "5:-1"):
        with pytest.raises(SeguqError, match="label map"):
            parse_label_map(bad)


def test_synthetic_options_are_parsed(tmp_path, write, monkeypatch):
    seen: dict = {}

    def synthetic_manifest(**options):
        seen.update(options)
        write.png(tmp_path / "s" / "i.png", BINARY)
        return write.text(tmp_path / "s" / "manifest.csv", "id,image,mask\ns1,i.png,i.png\n")

    fake = types.ModuleType("seguq.data.synthetic")
    fake.synthetic_manifest = synthetic_manifest
    monkeypatch.setitem(sys.modules, "seguq.data.synthetic", fake)
    source = load_source("synthetic:cases=4,noise=0.5,shape=disc")
    assert seen == {"cases": 4, "noise": 0.5, "shape": "disc"}
    assert source.layout == "synthetic" and source.name == "synthetic:cases=4,noise=0.5,shape=disc"
    assert source.root == (tmp_path / "s").absolute() and source.label_map == {0: 0, 255: 1}
    with pytest.raises(SeguqError, match="bad option 'cases'"):
        load_source("synthetic:cases")


def test_synthetic_source():
    synthetic = pytest.importorskip("seguq.data.synthetic")
    if not hasattr(synthetic, "synthetic_manifest"):
        pytest.skip("seguq.data.synthetic.synthetic_manifest is not written yet")
    source = load_source("synthetic")
    assert source.layout == "synthetic" and source.cases
    arrays = load_case(source.cases[0], source)
    assert arrays.image.ndim >= 3
