"""The loaders on the project's real data (skipped when ../shared/data is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from seguq.data.arrays import load_case
from seguq.data.io import read_mask, to_classes
from seguq.data.sources import load_source
from seguq.errors import SeguqError


def test_fixtures_manifest(shared_data):
    manifest = shared_data / "fixtures" / "manifest.csv"
    # Four tasks with four mask encodings (0/255, 0/1/2, 255 = prostate, 0..3): no one map.
    with pytest.raises(SeguqError, match="cannot tell which mask value is which class"):
        load_source(manifest)
    source = load_source(manifest, label_map={0: 0, 255: 1})
    assert source.layout == "manifest" and len(source.cases) == 32
    assert len(source.domains) == 16
    assert len({c.id for c in source.cases}) == 32  # prostate ids repeat per site: qualified
    assert {c.extra["task"] for c in source.cases} == {
        "vessels",
        "fundus_odoc",
        "prostate",
        "cardiac_mnms",
    }
    vessels = [c for c in source.cases if c.extra["task"] == "vessels"]
    arrays = load_case(vessels[0], source)  # vessels masks are 0/255: the default binary map
    assert arrays.image.shape[1:] == arrays.masks.shape[1:] and set(np.unique(arrays.masks)) == {
        0,
        1,
    }


def test_vessels(shared_data):
    source = load_source(shared_data / "vessels" / "manifest.csv")
    assert source.domains == ["CHASEDB1", "DRIVE"] and len(source.cases) == 68
    assert source.label_map == {0: 0, 255: 1} and source.num_raters == 2
    drive_test = [c for c in source.cases if c.domain == "DRIVE" and c.split == "test"]
    assert len(drive_test) == 20 and all(len(c.masks) == 2 for c in drive_test)
    assert all("fov" in c.extra for c in source.cases)
    arrays = load_case(drive_test[0], source)
    assert arrays.image.shape[0] == 3 and arrays.masks.shape == (2, *arrays.image.shape[1:])


def test_hippocampus_msd(shared_data):
    source = load_source(shared_data / "hippocampus_msd")
    assert source.layout == "msd" and len(source.cases) == 260 and source.num_classes == 3
    arrays = load_case(source.cases[0], source)
    assert arrays.image.ndim == 4 and arrays.image.shape[0] == 1
    assert arrays.masks.shape == arrays.image.shape
    assert set(np.unique(arrays.masks)) <= {0, 1, 2}
    assert arrays.geometry.format == "nifti" and arrays.geometry.affine.shape == (4, 4)


def test_fundus_benchmark(shared_data):
    source = load_source(shared_data / "seed_benchmark_samples" / "Fundus")
    assert source.layout == "fundus"
    assert source.domains == ["Domain1", "Domain2", "Domain3", "Domain4"]
    for domain in source.domains:
        assert sum(c.domain == domain for c in source.cases) == 6
    found: set[int] = set()
    for case in source.cases:
        raw, _ = read_mask(case.mask)
        found |= set(np.unique(to_classes(raw, source.label_map, case.mask)).tolist())
    assert found == {0, 1, 2}


def test_prostate_and_mnms_benchmarks(shared_data):
    prostate = load_source(shared_data / "seed_benchmark_samples" / "ProstateSlice")
    assert prostate.layout == "prostate" and len(prostate.domains) == 6
    assert prostate.class_names == ("background", "prostate") and len(prostate.cases) == 36
    arrays = load_case(prostate.cases[0], prostate)
    assert arrays.image.shape == (1, 384, 384) and set(np.unique(arrays.masks)) <= {0, 1}

    mnms = load_source(shared_data / "seed_benchmark_samples" / "mnms")
    assert mnms.class_names == ("background", "LV", "MYO", "RV") and len(mnms.domains) == 4
    raw, _ = read_mask(mnms.cases[0].mask)
    assert set(np.unique(raw).tolist()) <= {0, 1, 2, 3} and raw.max() > 1
