"""Foreign content inserted into images: where it is, how much, in the host's range."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from seguq.benchmark.insertions import insert_object, insert_patch, write_insertion_set
from seguq.errors import SeguqError


def _host(rng, shape=(80, 100, 3)):
    return rng.integers(40, 200, shape).astype(np.uint8)


def test_a_patch_covers_its_fraction_inside_the_image_in_the_hosts_range():
    rng = np.random.default_rng(0)
    host = _host(rng)
    donor = np.linspace(0, 5000, 60 * 70).reshape(60, 70)  # another modality, other numbers
    image, region = insert_patch(host, donor, rng, fraction=1 / 16)
    assert image.dtype == np.uint8 and image.shape == host.shape
    side = round(80 * 0.25)
    assert region.sum() == side * side
    rows, cols = np.nonzero(region)
    assert rows.min() >= 8 and cols.min() >= 10 and rows.max() < 72 and cols.max() < 90
    np.testing.assert_array_equal(image[~region], host[~region])  # nothing else changed
    low, high = np.percentile(host, [1, 99])
    assert low - 1 <= image[region].min() and image[region].max() <= high + 1
    assert not np.array_equal(image[region], host[region])


def test_an_object_is_an_ellipse_of_stripes_of_the_asked_area():
    rng = np.random.default_rng(1)
    host = _host(rng, (128, 128))
    image, region = insert_object(host, rng, fraction=0.05)
    assert region.sum() == pytest.approx(0.05 * 128 * 128, rel=0.15)
    assert image[region].std() > 20  # striped, not flat
    np.testing.assert_array_equal(image[~region], host[~region])


def test_the_set_is_written_once_and_reused(tmp_path):
    rng = np.random.default_rng(2)
    hosts = []
    for i in range(2):
        path = tmp_path / f"h{i}.png"
        Image.fromarray(_host(rng, (40, 40, 3))).save(path)
        hosts.append((f"h{i}", path))
    donor = tmp_path / "d.png"
    Image.fromarray(rng.integers(0, 255, (30, 30)).astype(np.uint8)).save(donor)
    out = tmp_path / "set"
    manifest = write_insertion_set(hosts, [donor], out, seed=3)
    rows = list(csv.DictReader(manifest.open()))
    assert [r["id"] for r in rows] == ["h0_patch", "h0_object", "h1_patch", "h1_object"]
    for row in rows:
        region = np.asarray(Image.open(out / row["region"]))
        assert region.shape == (40, 40) and set(np.unique(region)) == {0, 255}
        assert np.asarray(Image.open(out / row["image"])).shape == (40, 40, 3)
    stamp = manifest.stat().st_mtime_ns
    assert write_insertion_set(hosts, [donor], out, seed=3) == manifest
    assert manifest.stat().st_mtime_ns == stamp  # same settings: reused
    with pytest.raises(SeguqError, match="need donor images"):
        write_insertion_set(hosts, [], tmp_path / "x", kinds=["patch"])
    with pytest.raises(SeguqError, match="unknown insertion kind 'blob'"):
        write_insertion_set(hosts, [donor], tmp_path / "x", kinds=["blob"])
