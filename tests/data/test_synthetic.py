"""Tests of the procedural multi-site fundus data (seguq.data.synthetic)."""

from __future__ import annotations

import csv
import itertools
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

import seguq.data.synthetic as synthetic
from seguq.data.synthetic import (
    CLASS_NAMES,
    SITE_STYLES,
    SITES,
    generate_case,
    generate_synthetic,
    synthetic_manifest,
)
from seguq.data.synthetic import cache as cache_module
from seguq.data.synthetic.ood import CORRUPTIONS, anatomy_case, corrupt
from seguq.data.synthetic.writer import split_of
from seguq.errors import SeguqError

SMALL = {"n_per_site": 5, "size": 64, "n_raters": 3, "n_ood": 2}


def _case(seed: int, site: str = "site1", size=(128, 128), n_raters: int = 3):
    return generate_case(np.random.default_rng(seed), site, size, n_raters)


def _read_manifest(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


def _all_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# --- generate_case -------------------------------------------------------------------------------


def test_constants():
    assert CLASS_NAMES == ("background", "disc_rim", "cup")
    assert SITES == ("site1", "site2", "site3", "site4")


def test_generate_case_is_deterministic_per_seed():
    image_a, masks_a = _case(7)
    image_b, masks_b = _case(7)
    image_c, masks_c = _case(8)
    assert np.array_equal(image_a, image_b)
    assert all(np.array_equal(a, b) for a, b in zip(masks_a, masks_b, strict=True))
    assert not np.array_equal(image_a, image_c)
    assert not np.array_equal(masks_a[0], masks_c[0])


@pytest.mark.parametrize("size", [(64, 64), (128, 128), (96, 160), (160, 96), (64, 200)])
@pytest.mark.parametrize("site", SITES)
def test_generate_case_shapes_and_classes(site, size):
    image, masks = _case(3, site, size, n_raters=2)
    assert image.dtype == np.uint8 and image.shape == (*size, 3)
    assert len(masks) == 2
    for mask in masks:
        assert mask.shape == size
        assert set(np.unique(mask)) == {0, 1, 2}  # every case has a rim and a cup
    # the disc is a bright structure in the middle of a black-surrounded field of view
    assert image[0, 0].max() < 20 and image[size[0] // 2, size[1] // 2].max() > 20
    disc = masks[0] >= 1
    assert image[disc].mean() > image[~disc & (image.max(axis=2) > 20)].mean()


def test_generate_case_accepts_int_size_and_one_rater():
    image, masks = generate_case(np.random.default_rng(0), "site2", 80, 1)
    assert image.shape == (80, 80, 3) and len(masks) == 1


@pytest.mark.parametrize("seed", range(6))
def test_cup_is_nested_inside_the_disc_of_the_same_rater(seed):
    _, masks = _case(seed, SITES[seed % 4])
    for mask in masks:
        filled_disc = ndimage.binary_fill_holes(mask >= 1)
        cup_and_neighbours = ndimage.binary_dilation(mask == 2, structure=np.ones((3, 3)))
        assert np.all(filled_disc[cup_and_neighbours])
        assert np.all(mask[cup_and_neighbours] >= 1)  # rim all round the cup


def test_raters_differ_near_boundaries_and_agree_far_from_them():
    for seed in range(6):
        _, masks = _case(seed)
        for a, b in itertools.combinations(masks, 2):
            assert 0.85 < _dice(a >= 1, b >= 1) < 1.0
        reference = masks[0]
        boundary = np.zeros(reference.shape, dtype=bool)
        for label in (1, 2):
            region = reference >= label
            boundary |= region ^ ndimage.binary_erosion(region)
        distance = ndimage.distance_transform_edt(~boundary)
        for other in masks[1:]:
            disagree = other != reference
            assert disagree.any()
            assert distance[disagree].max() <= 4.0  # pixels, at 128 x 128
            assert np.array_equal(other[distance > 4.0], reference[distance > 4.0])


def test_sites_differ_in_colour_more_than_images_within_a_site():
    means = {}
    for site in SITES:
        per_image = []
        for i in range(8):
            image, _ = generate_case(np.random.default_rng([11, i]), site, (64, 64), 1)
            fov = image.max(axis=2) > 20
            per_image.append(image[fov].mean(axis=0))
        means[site] = np.array(per_image)
    within = max(float(np.linalg.norm(m.std(axis=0))) for m in means.values())
    for a, b in itertools.combinations(SITES, 2):
        between = float(np.linalg.norm(means[a].mean(axis=0) - means[b].mean(axis=0)))
        assert between > within, (a, b, between, within)
    # site4 is the documented shift: darker and bluer than the reference site
    site1, site4 = means["site1"].mean(axis=0), means["site4"].mean(axis=0)
    assert site4.sum() < 0.7 * site1.sum()
    assert site4[2] / site4[0] > 1.5 * site1[2] / site1[0]


def test_docstring_table_matches_site_styles():
    rows = {}
    for line in (synthetic.__doc__ or "").splitlines():
        cells = line.replace(",", " ").split()
        if len(cells) == 11 and cells[0] in SITES:
            rows[cells[0]] = [float(c) for c in cells[1:]]
    assert set(rows) == set(SITES)
    for site, style in SITE_STYLES.items():
        expected = [
            *style.gain,
            style.brightness,
            style.contrast,
            style.gamma,
            style.blur,
            style.noise,
            style.vignetting,
            style.gradient,
        ]
        assert rows[site] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("site", "size", "n_raters"),
    [
        ("site9", 64, 3),
        ("site1", 16, 3),
        ("site1", (64,), 3),
        ("site1", "big", 3),
        ("site1", True, 3),
        ("site1", 64, 0),
    ],
)
def test_generate_case_rejects_bad_arguments(site, size, n_raters):
    with pytest.raises(SeguqError, match="synthetic"):
        generate_case(np.random.default_rng(0), site, size, n_raters)


# --- OOD -----------------------------------------------------------------------------------------


def test_ood_anatomy_is_grey_and_corruptions_change_the_image():
    for index in range(2):  # chest X-ray, then ultrasound
        image = anatomy_case(np.random.default_rng(index), (64, 96), index)
        assert image.shape == (64, 96, 3) and image.dtype == np.uint8
        assert np.array_equal(image[..., 0], image[..., 1]) and image.std() > 10
    clean, _ = _case(0, size=(64, 64))
    for kind in CORRUPTIONS:
        damaged = corrupt(np.random.default_rng(0), clean, kind)
        assert damaged.shape == clean.shape
        assert np.abs(damaged.astype(float) - clean).mean() > 5, kind


# --- generate_synthetic --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "expected"),
    [(1, (1, 0, 0)), (2, (1, 0, 1)), (3, (1, 1, 1)), (5, (3, 1, 1)), (20, (12, 4, 4))],
)
def test_split_proportions(n, expected):
    counts = Counter(split_of(i, n) for i in range(n))
    assert (counts["train"], counts["val"], counts["test"]) == expected


def test_generate_synthetic_writes_manifest_and_files(tmp_path):
    manifest = generate_synthetic(tmp_path / "ds", seed=1, **SMALL)
    assert manifest == tmp_path / "ds" / "manifest.csv"
    columns, rows = _read_manifest(manifest)
    assert columns == ["id", "domain", "split", "image", "mask", "mask_rater2", "mask_rater3"]
    assert len(rows) == 4 * 5 + 2 * 2
    assert Counter(r["domain"] for r in rows) == {
        **{site: 5 for site in SITES},
        "ood_anatomy": 2,
        "ood_corrupt": 2,
    }
    for site in SITES:
        splits = Counter(r["split"] for r in rows if r["domain"] == site)
        assert splits == {"train": 3, "val": 1, "test": 1}
    assert len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        image = Image.open(manifest.parent / row["image"])
        assert image.mode == "RGB" and image.size == (64, 64)
        mask_cells = [row["mask"], row["mask_rater2"], row["mask_rater3"]]
        if row["domain"] == "ood_anatomy":
            assert row["split"] == "ood" and mask_cells == ["", "", ""]
            continue
        assert (row["split"] == "ood") == (row["domain"] == "ood_corrupt")
        for cell in mask_cells:
            mask = Image.open(manifest.parent / cell)
            assert mask.mode == "L"
            assert set(np.unique(np.asarray(mask))) <= {0, 1, 2}
    assert not [p for p in tmp_path.iterdir() if p.name != "ds"]  # no temporary leftovers


@pytest.mark.parametrize(("n_raters", "extra"), [(1, []), (2, ["mask_rater2"])])
def test_manifest_has_one_column_per_extra_rater(tmp_path, n_raters, extra):
    options = {**SMALL, "n_per_site": 1, "n_ood": 1, "n_raters": n_raters}
    columns, _ = _read_manifest(generate_synthetic(tmp_path / "ds", **options))
    assert columns == ["id", "domain", "split", "image", "mask", *extra]


def test_generate_synthetic_is_deterministic_and_subsets_reproducible(tmp_path):
    first = _all_files(generate_synthetic(tmp_path / "a", seed=3, **SMALL).parent)
    again = _all_files(generate_synthetic(tmp_path / "b", seed=3, **SMALL).parent)
    other = _all_files(generate_synthetic(tmp_path / "c", seed=4, **SMALL).parent)
    smaller = _all_files(
        generate_synthetic(tmp_path / "d", seed=3, **{**SMALL, "n_per_site": 3}).parent
    )
    assert first == again
    image = "images/site2/site2_0002.png"
    assert first[image] != other[image]
    assert first[image] == smaller[image]  # a case depends on (seed, site, index) only


def test_generate_synthetic_refuses_to_overwrite_unless_asked(tmp_path):
    out = tmp_path / "ds"
    generate_synthetic(out, seed=0, **SMALL)
    before = (out / "images/site1/site1_0000.png").read_bytes()
    with pytest.raises(SeguqError, match="overwrite=True"):
        generate_synthetic(out, seed=1, **SMALL)
    assert (out / "images/site1/site1_0000.png").read_bytes() == before
    generate_synthetic(out, seed=1, **SMALL, overwrite=True)
    assert (out / "images/site1/site1_0000.png").read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_generate_synthetic_folder_checks(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert generate_synthetic(empty, **SMALL).is_file()  # an empty folder is replaced
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(SeguqError, match="not empty"):
        generate_synthetic(foreign, **SMALL, overwrite=True)
    assert (foreign / "notes.txt").read_text() == "mine"
    with pytest.raises(SeguqError, match="n_per_site"):
        generate_synthetic(tmp_path / "bad", n_per_site=0)


# --- synthetic_manifest (cache) ------------------------------------------------------------------


def test_synthetic_manifest_builds_once_then_reuses(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGUQ_CACHE_DIR", str(tmp_path))
    manifest = synthetic_manifest(**SMALL)
    assert manifest.is_file() and manifest.parent.parent == tmp_path / "synthetic"
    stamp = os.stat(manifest).st_mtime_ns
    image = manifest.parent / "images/site1/site1_0000.png"
    image_stamp = os.stat(image).st_mtime_ns
    for size in [(64, 64), "64x64", "64"]:  # the same options, spelt otherwise
        assert synthetic_manifest(**{**SMALL, "size": size}) == manifest
    assert os.stat(manifest).st_mtime_ns == stamp and os.stat(image).st_mtime_ns == image_stamp
    other = synthetic_manifest(**{**SMALL, "seed": 5})
    assert other.parent != manifest.parent
    assert sorted(p.name for p in (tmp_path / "synthetic").iterdir()) == sorted(
        [manifest.parent.name, other.parent.name]
    )


def test_synthetic_manifest_uses_the_winner_of_a_race(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGUQ_CACHE_DIR", str(tmp_path))
    real_build = cache_module.build_in_temp

    def build_while_another_process_finishes_first(target, options):
        os.rename(real_build(target, options), target)  # the other process wins the rename
        return real_build(target, options)

    monkeypatch.setattr(cache_module, "build_in_temp", build_while_another_process_finishes_first)
    manifest = synthetic_manifest(**SMALL)
    assert manifest.is_file()
    assert [p.name for p in (tmp_path / "synthetic").iterdir()] == [manifest.parent.name]


def test_synthetic_manifest_rejects_bad_options(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGUQ_CACHE_DIR", str(tmp_path))
    with pytest.raises(SeguqError, match=r"unknown option 'x' \(known: seed, n_per_site"):
        synthetic_manifest(x=1)
    with pytest.raises(SeguqError, match="n_raters"):
        synthetic_manifest(n_raters=0)
    with pytest.raises(SeguqError, match="size"):
        synthetic_manifest(size=(64, 64, 3))
    assert not (tmp_path / "synthetic").exists()


def test_the_hard_mode_shifts_site4_only_and_keeps_its_disc_visible(tmp_path):
    usual = generate_synthetic(tmp_path / "usual", n_per_site=2, size=64, n_ood=0)
    hard = generate_synthetic(tmp_path / "hard", n_per_site=2, size=64, n_ood=0, hard=True)
    for site in ("site1", "site2", "site3"):
        a, b = (
            np.asarray(Image.open(m.parent / f"images/{site}/{site}_0000.png"))
            for m in (usual, hard)
        )
        np.testing.assert_array_equal(a, b)
    masks = [np.asarray(Image.open(m.parent / "masks/site4/site4_0000.png")) for m in (usual, hard)]
    np.testing.assert_array_equal(*masks)  # the same anatomy
    pictures = []
    for manifest in (usual, hard):
        image = np.asarray(Image.open(manifest.parent / "images/site4/site4_0000.png"), float)
        grey, truth = image.mean(-1), masks[0]
        retina = (truth == 0) & (grey > 10)  # inside the field of view
        assert grey[truth > 0].mean() > grey[retina].mean()  # the disc is the brightest
        pictures.append(image)
    assert np.abs(pictures[0] - pictures[1]).mean() > 10  # another camera altogether


def test_the_hard_mode_is_an_option_and_names_its_own_data_set(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGUQ_CACHE_DIR", str(tmp_path))
    usual = synthetic_manifest(**SMALL)
    assert synthetic_manifest(**{**SMALL, "hard": "false"}) == usual  # the usual data set's name
    hard = synthetic_manifest(**{**SMALL, "hard": "true"})
    assert hard.parent != usual.parent
    with pytest.raises(SeguqError, match="hard 'yes' must be true or false"):
        synthetic_manifest(hard="yes")
