"""Writing a synthetic data set to a folder: PNG images and masks plus manifest.csv, atomically."""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from seguq.data.synthetic.fundus import SITES, generate_case
from seguq.data.synthetic.ood import anatomy_case, corrupt_case
from seguq.data.synthetic.options import SyntheticOptions
from seguq.errors import SeguqError

MANIFEST = "manifest.csv"
INFO = "synthetic.json"
OOD_DOMAINS = ("ood_anatomy", "ood_corrupt")


def manifest_columns(n_raters: int) -> list[str]:
    """id, domain, split, image, mask, then mask_rater2 .. mask_rater<n_raters>."""
    return ["id", "domain", "split", "image", "mask"] + [
        f"mask_rater{r}" for r in range(2, n_raters + 1)
    ]


def case_rng(seed: int, domain: str, index: int) -> np.random.Generator:
    """The generator of one case, a function of (seed, domain, index) only.

    Any subset of a data set can therefore be regenerated without the rest.
    """
    return np.random.default_rng([seed, zlib.crc32(domain.encode()), index])


def split_of(index: int, n: int) -> str:
    """Split of the `index`-th of `n` cases of a site: 60% train, 20% val, 20% test.

    Contiguous blocks in index order; val and test get at least one case each when n >= 3.
    """
    if n < 3:
        return ("train", "test")[index] if n == 2 else "train"
    n_val = max(1, round(0.2 * n))
    n_test = max(1, round(0.2 * n))
    n_train = n - n_val - n_test
    if index < n_train:
        return "train"
    return "val" if index < n_train + n_val else "test"


def is_complete(folder: Path) -> bool:
    """Whether `folder` holds a finished synthetic data set: its settings (`synthetic.json`)
    and its manifest, written last (a real data set with the same header is not one)."""
    manifest = folder / MANIFEST
    if not manifest.is_file() or not (folder / INFO).is_file():
        return False
    with manifest.open(encoding="utf-8") as f:
        return f.readline().startswith("id,domain,split,image,mask")


def _save_png(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, compress_level=3)


def _cases(options: SyntheticOptions) -> Iterator[tuple[str, str, str, np.ndarray, list]]:
    """Yield (id, domain, split, image, masks) for every case of the data set."""
    for site in SITES:
        for i in range(options.n_per_site):
            rng = case_rng(options.seed, site, i)
            image, masks = generate_case(rng, site, options.size, options.n_raters, options.hard)
            yield f"{site}_{i:04d}", site, split_of(i, options.n_per_site), image, masks
    for i in range(options.n_ood):
        rng = case_rng(options.seed, "ood_anatomy", i)
        yield f"ood_anatomy_{i:04d}", "ood_anatomy", "ood", anatomy_case(rng, options.size, i), []
    for i in range(options.n_ood):
        rng = case_rng(options.seed, "ood_corrupt", i)
        image, masks = corrupt_case(rng, options.size, options.n_raters, i)
        yield f"ood_corrupt_{i:04d}", "ood_corrupt", "ood", image, masks


def write_dataset(folder: Path, options: SyntheticOptions) -> Path:
    """Write every case and then the manifest into `folder` (which must exist); return it."""
    rows = []
    for case_id, domain, split, image, masks in _cases(options):
        image_rel = f"images/{domain}/{case_id}.png"
        _save_png(image, folder / image_rel)
        mask_rels = []
        for r, mask in enumerate(masks):
            suffix = "" if r == 0 else f"_rater{r + 1}"
            mask_rel = f"masks/{domain}/{case_id}{suffix}.png"
            _save_png(mask.astype(np.uint8), folder / mask_rel)
            mask_rels.append(mask_rel)
        mask_rels += [""] * (options.n_raters - len(mask_rels))
        rows.append([case_id, domain, split, image_rel, *mask_rels])
    (folder / INFO).write_text(options.as_json() + "\n", encoding="utf-8")
    manifest = folder / MANIFEST
    with manifest.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(manifest_columns(options.n_raters))
        writer.writerows(rows)
    return manifest


def build_in_temp(target: Path, options: SyntheticOptions) -> Path:
    """Write the data set into a fresh hidden sibling of `target`; return that folder.

    Raises:
        SeguqError: the parent folder cannot be created or written.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    except OSError as err:
        raise SeguqError(f"synthetic: cannot write next to {target}: {err}") from err
    try:
        write_dataset(temp, options)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return temp


def discard(folder: Path) -> None:
    """Rename `folder` aside (so its name is free at once) and delete it; ignore if gone."""
    trash = folder.with_name(f".{folder.name}.old-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(folder, trash)
    except FileNotFoundError:
        return
    if trash.is_dir():
        shutil.rmtree(trash, ignore_errors=True)
    else:
        trash.unlink(missing_ok=True)


def _check_target(out_dir: Path, overwrite: bool) -> None:
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise SeguqError(f"synthetic: {out_dir} exists and is not a folder")
    if is_complete(out_dir):
        if not overwrite:
            raise SeguqError(
                f"synthetic: {out_dir} already holds a data set; pass overwrite=True to replace it"
            )
    elif any(out_dir.iterdir()):
        raise SeguqError(
            f"synthetic: {out_dir} is not empty and holds no {MANIFEST}; "
            "refusing to replace it, choose another folder"
        )


def generate_synthetic(
    out_dir: Path,
    *,
    seed: int = 0,
    n_per_site: int = 20,
    size: int | tuple[int, int] = 128,
    n_raters: int = 3,
    n_ood: int = 8,
    hard: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write the procedural multi-site fundus data set to `out_dir`.

    Layout: `images/<domain>/<id>.png` (RGB uint8), `masks/<domain>/<id>.png` for rater 1 and
    `<id>_rater<r>.png` for the others (class indices 0/1/2, uint8), `synthetic.json` (the
    options) and `manifest.csv` with columns id, domain, split, image, mask, mask_rater2, ...
    (paths relative to `out_dir`). Each site's cases are split 60/20/20 into train/val/test;
    OOD cases have split "ood", and `ood_anatomy` rows have empty mask cells.

    The folder appears at once, complete: it is built in a hidden sibling and renamed into
    place (an empty existing folder is replaced).

    Args:
        out_dir: destination folder.
        seed: base seed; each case is seeded from (seed, domain, index).
        n_per_site: cases per site (1..100000).
        size: image size, an int for a square or (height, width); sides 32..2048.
        n_raters: annotators per case (1..8); rater 1 draws the true shapes.
        n_ood: cases in each of `ood_anatomy` and `ood_corrupt` (0..100000).
        hard: the hard mode: site4 photographed as `synthetic.sites.HARD_SITE4`.
        overwrite: replace an existing synthetic data set in `out_dir`.

    Returns:
        The path of the manifest.

    Raises:
        SeguqError: a bad option; `out_dir` holds a data set and overwrite is False; `out_dir`
            is a file or a non-empty folder without a manifest; or it cannot be written.
    """
    options = SyntheticOptions.create(
        seed=seed, n_per_site=n_per_site, size=size, n_raters=n_raters, n_ood=n_ood, hard=hard
    )
    out_dir = Path(out_dir)
    _check_target(out_dir, overwrite)
    temp = build_in_temp(out_dir, options)
    try:
        os.rename(temp, out_dir)  # succeeds when out_dir is absent or an empty folder
    except OSError:
        try:
            _check_target(out_dir, overwrite)  # it exists now: a data set to replace?
            discard(out_dir)
            os.rename(temp, out_dir)
        except OSError as err:
            shutil.rmtree(temp, ignore_errors=True)
            raise SeguqError(f"synthetic: cannot move the data set into {out_dir}: {err}") from err
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
    return out_dir / MANIFEST
