"""Data preparation for `compare_methods.py`: resized copies of the sources and case subsets.

Everything is written outside the repository (the real data must never enter it): a resized copy
of each source under a work folder (reused when its `prepared.json` matches), and per run small
subset manifests with absolute paths (the test and OOD cases actually used).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
from PIL import Image

from seguq.errors import SeguqError

MARKER = "prepared.json"
IMAGE_COLUMN = "image"
KEY_COLUMNS = ("id", "domain", "split")  # copied as they are; every other non-empty cell is a file


def _check_outside(path: Path, repo: Path, what: str) -> None:
    """Refuse to write data inside the repository."""
    if path.resolve().is_relative_to(repo.resolve()):
        raise SeguqError(f"{what} {path}: inside the repository {repo}; choose a folder outside it")


def _resize(src: Path, dst: Path, size: int, *, resample: int) -> None:
    with Image.open(src) as image:
        image.load()
        resized = image.resize((size, size), resample=resample)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".tmp-{dst.name}")  # same ending: Pillow picks the format from it
    resized.save(tmp)
    tmp.replace(dst)  # whole files only, so that an interrupted preparation can skip them


def _read_rows(csv_path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            return list(reader.fieldnames or []), list(reader)
    except OSError as error:
        raise SeguqError(f"{csv_path}: cannot read the manifest ({error})") from None


def _write_rows(csv_path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = csv_path.with_name(csv_path.name + ".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(csv_path)


def resize_manifest(manifest: Path, dst: Path, size: int) -> int:
    """Copy a manifest and its files to `dst`, every picture resized to `size` x `size`.

    The `image` column is resampled bilinearly, every other file column (masks, label maps,
    field-of-view masks) with nearest neighbours so that labels stay labels. Paths in the new
    manifest are the same relative paths, now relative to `dst`.

    Returns:
        The number of cases.

    Raises:
        SeguqError: the manifest cannot be read or names a missing file.
    """
    columns, rows = _read_rows(manifest)
    for row in rows:
        for column in columns:
            cell = (row.get(column) or "").strip()
            if column in KEY_COLUMNS or not cell:
                continue
            src = manifest.parent / cell
            if not src.is_file():
                raise SeguqError(f"{manifest}: case '{row.get('id')}': file {src} does not exist")
            out = dst / cell
            if out.is_file():
                continue  # an interrupted earlier preparation already wrote it
            resample = (
                Image.Resampling.BILINEAR if column == IMAGE_COLUMN else Image.Resampling.NEAREST
            )
            _resize(src, out, size, resample=resample)
    _write_rows(dst / "manifest.csv", columns, rows)
    return len(rows)


def middle_slices(images_dir: Path, dst: Path, size: int, volumes: int) -> int:
    """Grey PNGs of the middle slice along each axis of `volumes` evenly spaced volumes.

    Each slice is normalised on its own to 0..255 (raw MRI intensities vary by orders of
    magnitude), resized bilinearly to `size` x `size` and listed in an unlabelled manifest.

    Returns:
        The number of slices written.

    Raises:
        SeguqError: the folder holds no NIfTI volume.
    """
    files = sorted(p for p in images_dir.iterdir() if p.name.endswith((".nii.gz", ".nii")))
    if not files:
        raise SeguqError(f"{images_dir}: no NIfTI volumes found")
    picks = np.unique(np.linspace(0, len(files) - 1, min(volumes, len(files))).round().astype(int))
    rows = []
    for index in picks:
        path = files[index]
        volume = np.asarray(nib.load(path).dataobj, dtype=np.float64)
        if volume.ndim == 4:
            volume = volume[..., 0]
        stem = path.name.split(".")[0]
        for axis in range(3):
            plane = np.take(volume, volume.shape[axis] // 2, axis=axis)
            low, high = float(plane.min()), float(plane.max())
            scaled = (plane - low) / (high - low) * 255.0 if high > low else plane * 0.0
            grey = Image.fromarray(np.round(scaled).astype(np.uint8), mode="L")
            name = f"images/{stem}_axis{axis}.png"
            out = dst / name
            out.parent.mkdir(parents=True, exist_ok=True)
            grey.resize((size, size), resample=Image.Resampling.BILINEAR).save(out)
            rows.append({"id": f"{stem}_axis{axis}", "domain": "hippocampus", "image": name})
    _write_rows(dst / "manifest.csv", ["id", "domain", "split", "image", "mask"], rows)
    return len(rows)


PREPARERS: dict[str, Callable[[dict, Path, Path, int], int]] = {
    "manifest": lambda spec, root, dst, size: resize_manifest(root / spec["path"], dst, size),
    "middle_slices": lambda spec, root, dst, size: middle_slices(
        root / spec["path"], dst, size, spec.get("volumes", 40)
    ),
}


def prepare_source(
    name: str, spec: dict, data_root: Path, work: Path, size: int, repo: Path
) -> Path:
    """The prepared copy of one source (its folder holds manifest.csv); reused when complete.

    Raises:
        SeguqError: an unknown kind, a work folder inside the repository, or bad source data.
    """
    _check_outside(work, repo, "--work")
    if spec["kind"] not in PREPARERS:
        raise SeguqError(f"source '{name}': unknown kind '{spec['kind']}'")
    dst = work / name
    settings = {"source": str((data_root / spec["path"]).resolve()), "size": size, **spec}
    marker = dst / MARKER
    if marker.is_file() and json.loads(marker.read_text()).get("settings") == settings:
        return dst
    cases = PREPARERS[spec["kind"]](spec, data_root, dst, size)
    marker.write_text(json.dumps({"settings": settings, "cases": cases}, indent=2))
    return dst


def write_subset(
    manifest: Path,
    out_csv: Path,
    *,
    splits: list[str] | None = None,
    domains: list[str] | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> list[str]:
    """A manifest of selected cases with absolute paths (so that it can live anywhere).

    Cases are filtered by split and domain, then, with `limit`, a seeded random subset of that
    many is kept (in the original order).

    Returns:
        The ids of the kept cases.

    Raises:
        SeguqError: no case matches.
    """
    columns, rows = _read_rows(manifest)
    kept = [
        row
        for row in rows
        if (not splits or row.get("split", "") in splits)
        and (not domains or row.get("domain", "") in domains)
    ]
    if not kept:
        raise SeguqError(f"{manifest}: no case in splits {splits} and domains {domains}")
    if limit is not None and limit < len(kept):
        chosen = np.random.default_rng(seed).choice(len(kept), size=limit, replace=False)
        kept = [kept[i] for i in sorted(chosen)]
    absolute = []
    for row in kept:
        new = dict(row)
        for column in columns:
            cell = (row.get(column) or "").strip()
            if column not in KEY_COLUMNS and cell:
                new[column] = str((manifest.parent / cell).resolve())
        absolute.append(new)
    _write_rows(out_csv, columns, absolute)
    return [row["id"] for row in absolute]
