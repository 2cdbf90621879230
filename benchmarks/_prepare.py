"""Data preparation for `compare_methods.py`: resized copies of the sources and case subsets.

Everything is written outside the repository (the real data must never enter it): a resized copy
of each source under a work folder (reused when its `prepared.json` matches), and per run small
subset manifests with absolute paths (the test and OOD cases actually used), and corrupted copies
of test images (blur, noise, a bright patch) for OOD detection.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

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


def synthetic(spec: dict, dst: Path) -> int:
    """seguq's generated multi-site data (`generate_synthetic`) written to `dst`.

    Returns:
        The number of cases.
    """
    from seguq.data.synthetic import generate_synthetic

    manifest = generate_synthetic(
        dst,
        seed=spec.get("seed", 0),
        n_per_site=spec.get("n_per_site", 20),
        size=spec.get("size", 128),
        n_raters=spec.get("n_raters", 3),
        n_ood=spec.get("n_ood", 20),
        overwrite=True,
    )
    return len(_read_rows(Path(manifest))[1])


PREPARERS: dict[str, Callable[[dict, Path, Path, int], int]] = {
    "manifest": lambda spec, root, dst, size: resize_manifest(root / spec["path"], dst, size),
    "middle_slices": lambda spec, root, dst, size: middle_slices(
        root / spec["path"], dst, size, spec.get("volumes", 40)
    ),
    "synthetic": lambda spec, root, dst, size: synthetic(spec, dst),
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
    if spec["kind"] == "synthetic":  # generated, not read: no source path, its own size
        settings = dict(spec)
    else:
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


def annotator_columns(manifest: Path) -> list[str]:
    """The mask columns (`mask`, `mask_<rater>`) with a file for at least one case."""
    columns, rows = _read_rows(manifest)
    return [
        c
        for c in columns
        if (c == "mask" or c.startswith("mask_")) and any((r.get(c) or "").strip() for r in rows)
    ]


def corrupt_image(image: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """One corrupted copy of a (H, W) or (H, W, C) image, in its dtype.

    Lengths scale with the image (sigma 3 px at 256 px), the intensity range is that of the
    dtype for integer images (0..255 for 8 bit) and the image's own range otherwise:
    - blur: Gaussian blur of the spatial axes, sigma = 3 * min(H, W) / 256;
    - noise: additive Gaussian noise, std = 0.2 of the intensity range, clipped to it;
    - patch: a square of side min(H, W) / 3 (1/9 of the image) at the range's maximum, at a
      seeded random position.
    """
    if np.issubdtype(image.dtype, np.integer):
        low, high = float(np.iinfo(image.dtype).min), float(np.iinfo(image.dtype).max)
    else:
        low, high = float(image.min()), float(image.max())
    data = image.astype(np.float64)
    side = min(image.shape[:2])
    if kind == "blur":
        sigma = 3.0 * side / 256.0
        out = gaussian_filter(data, sigma=(sigma, sigma) + (0,) * (data.ndim - 2))
    elif kind == "noise":
        out = data + rng.normal(0.0, 0.2 * (high - low), size=data.shape)
    elif kind == "patch":
        width = max(1, round(side / 3))
        top = int(rng.integers(0, image.shape[0] - width + 1))
        left = int(rng.integers(0, image.shape[1] - width + 1))
        out = data.copy()
        out[top : top + width, left : left + width] = high
    else:
        raise SeguqError(f"unknown corruption '{kind}' (known: blur, noise, patch)")
    out = np.clip(out, low, high)
    if np.issubdtype(image.dtype, np.integer):
        out = np.round(out)
    return out.astype(image.dtype)


def corrupt_subset(
    subset_csv: Path,
    dst: Path,
    kind: str,
    *,
    limit: int | None = None,
    seed: int = 0,
    repo: Path,
) -> Path:
    """Corrupted copies of the images of a subset manifest (absolute paths), under `dst`.

    With `limit`, a seeded random subset of that many cases is corrupted. Ids get the suffix
    `_<kind>`, domains become `corrupt_<kind>`; other columns (masks) keep pointing at the
    originals. Reused when `dst/prepared.json` records the same settings and cases.

    Returns:
        The manifest of the corrupted copies (`dst/manifest.csv`).

    Raises:
        SeguqError: `dst` inside the repository, an unreadable manifest or image, an unknown kind.
    """
    _check_outside(dst, repo, "--work")
    columns, rows = _read_rows(subset_csv)
    if limit is not None and limit < len(rows):
        chosen = np.random.default_rng(seed).choice(len(rows), size=limit, replace=False)
        rows = [rows[i] for i in sorted(chosen)]
    settings = {"kind": kind, "seed": seed, "ids": [r["id"] for r in rows]}
    settings["images"] = [r[IMAGE_COLUMN] for r in rows]
    marker = dst / MARKER
    if marker.is_file() and json.loads(marker.read_text()).get("settings") == settings:
        return dst / "manifest.csv"
    new_rows = []
    for index, row in enumerate(rows):
        src = Path(row[IMAGE_COLUMN])
        try:
            with Image.open(src) as handle:
                handle.load()
                mode, array = handle.mode, np.asarray(handle)
        except OSError as error:
            raise SeguqError(f"{src}: cannot read the image ({error})") from None
        rng = np.random.default_rng([seed, index, sorted(("blur", "noise", "patch")).index(kind)])
        corrupted = corrupt_image(array, kind, rng)
        name = f"images/{row['id']}_{kind}.png"
        out = dst / name
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(corrupted, mode=mode if mode in ("L", "RGB") else None).save(out)
        new_rows.append(
            {**row, "id": f"{row['id']}_{kind}", "domain": f"corrupt_{kind}", IMAGE_COLUMN: name}
        )
    out_columns = list(columns) + [c for c in ("domain",) if c not in columns]
    _write_rows(dst / "manifest.csv", out_columns, new_rows)
    marker.write_text(json.dumps({"settings": settings, "cases": len(new_rows)}, indent=2))
    return dst / "manifest.csv"
