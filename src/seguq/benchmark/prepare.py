"""Data preparation for benchmarks: resized copies of the sources and case subsets.

Everything is written outside the source tree (the real data must never enter it): a resized copy
of each source under a work folder (reused when its `prepared.json` matches) and, per benchmark,
small subset manifests with absolute paths (the test and OOD cases actually used). Corrupted
copies of test images are made by `seguq.benchmark.corruptions`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
from PIL import Image

from seguq.data.io import atomic_write
from seguq.errors import SeguqError

MARKER = "prepared.json"
IMAGE_COLUMN = "image"
KEY_COLUMNS = ("id", "domain", "split")  # copied as they are; every other non-empty cell is a file


def source_tree() -> Path | None:
    """The project folder of an editable (source) install of seguq, or None."""
    root = Path(__file__).resolve().parents[3]
    is_source = (root / "pyproject.toml").is_file() and (root / "src" / "seguq").is_dir()
    return root if is_source else None


def check_outside(path: Path, repo: Path | None, what: str) -> None:
    """Refuse to write data inside the repository (`repo`; nothing to check when None)."""
    if repo is not None and path.resolve().is_relative_to(repo.resolve()):
        raise SeguqError(f"{what} {path}: inside the repository {repo}; choose a folder outside it")


def _resize(src: Path, dst: Path, size: int, *, resample: int) -> None:
    with Image.open(src) as image:
        image.load()
        resized = image.resize((size, size), resample=resample)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".tmp-{dst.name}")  # same ending: Pillow picks the format from it
    resized.save(tmp)
    tmp.replace(dst)  # whole files only, so that an interrupted preparation can skip them


def read_rows(csv_path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            return list(reader.fieldnames or []), list(reader)
    except OSError as error:
        raise SeguqError(f"{csv_path}: cannot read the manifest ({error})") from None


def write_rows(csv_path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
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
    columns, rows = read_rows(manifest)
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
    write_rows(dst / "manifest.csv", columns, rows)
    return len(rows)


def middle_slices(images_dir: Path, dst: Path, size: int | None, volumes: int) -> int:
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
            if size:
                grey = grey.resize((size, size), resample=Image.Resampling.BILINEAR)
            grey.save(out)
            rows.append({"id": f"{stem}_axis{axis}", "domain": "hippocampus", "image": name})
    write_rows(dst / "manifest.csv", ["id", "domain", "split", "image", "mask"], rows)
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
    return len(read_rows(Path(manifest))[1])


PREPARERS: dict[str, Callable[[dict, Path, Path, int | None], int]] = {
    "manifest": lambda spec, root, dst, size: resize_manifest(root / spec["path"], dst, size),
    "middle_slices": lambda spec, root, dst, size: middle_slices(
        root / spec["path"], dst, size, spec.get("volumes", 40)
    ),
    "synthetic": lambda spec, root, dst, size: synthetic(spec, dst),
    "msd": lambda spec, root, dst, size: _msd(spec, root, dst),
}


def _msd(spec: dict, root: Path, dst: Path) -> int:
    from seguq.benchmark.msd_split import msd_split

    return msd_split(
        root / spec["path"],
        dst,
        test_fraction=float(spec.get("test_fraction", 0.2)),
        seed=int(spec.get("seed", 0)),
    )


def prepare_source(
    name: str, spec: dict, data_root: Path, work: Path, size: int | None, repo: Path | None
) -> Path:
    """The manifest of one source, prepared under `work / name` when needed; reused when complete.

    A manifest kept at its size (`size` None) is used in place; every other source is written
    once (resized copies, middle slices of volumes, generated data) and reused while its
    `prepared.json` records the same settings.

    Returns:
        The path of the manifest CSV.

    Raises:
        SeguqError: an unknown kind, a missing source, a work folder inside the repository, or
            bad source data.
    """
    kind = spec.get("kind")
    if kind not in PREPARERS:
        raise SeguqError(f"source '{name}': unknown kind '{kind}' (known: {', '.join(PREPARERS)})")
    if kind != "synthetic" and not (data_root / spec["path"]).exists():
        raise SeguqError(f"source '{name}': {data_root / spec['path']} does not exist")
    if kind == "manifest" and size is None:
        return (data_root / spec["path"]).resolve()
    check_outside(work, repo, "the prepared data folder")
    dst = work / name
    if spec.get("path"):
        _check_apart(dst, data_root / spec["path"])
    if kind == "synthetic":  # generated, not read: no source path, its own size
        settings = dict(spec)
    else:
        settings = {"source": str((data_root / spec["path"]).resolve()), "size": size, **spec}
    marker = dst / MARKER
    if marker.is_file() and json.loads(marker.read_text()).get("settings") == settings:
        return dst / "manifest.csv"
    cases = PREPARERS[kind](spec, data_root, dst, size)
    atomic_write(
        marker,
        lambda tmp: tmp.write_text(json.dumps({"settings": settings, "cases": cases}, indent=2)),
    )
    return dst / "manifest.csv"


def _check_apart(dst: Path, data: Path) -> None:
    """The prepared copy is written neither inside the source's data nor over a folder holding
    it (a manifest file: its folder)."""
    target, source = dst.resolve(), Path(data).resolve()
    if source.is_file():
        source = source.parent
    if target.is_relative_to(source) or source.is_relative_to(target):
        raise SeguqError(
            f"work folder {dst}: overlaps the data {data}; seguq never writes into the data, "
            "choose another 'work' folder"
        )


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
    columns, rows = read_rows(manifest)
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
    write_rows(out_csv, columns, absolute)
    return [row["id"] for row in absolute]


def annotator_columns(manifest: Path) -> list[str]:
    """The mask columns (`mask`, `mask_<rater>`) with a file for at least one case."""
    columns, rows = read_rows(manifest)
    return [
        c
        for c in columns
        if (c == "mask" or c.startswith("mask_")) and any((r.get(c) or "").strip() for r in rows)
    ]
