"""Corrupted copies of test images (blur, noise, a bright patch) at several strengths (OOD sets).

Written outside the repository, reused when their `prepared.json` records the same settings.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from seguq.benchmark.prepare import IMAGE_COLUMN, MARKER, check_outside, read_rows, write_rows
from seguq.data.io import atomic_write
from seguq.errors import SeguqError

CORRUPTIONS = ("blur", "noise", "patch")


def corrupt_image(
    image: np.ndarray,
    kind: str,
    rng: np.random.Generator,
    strength: float = 1.0,
    spatial_dims: int = 2,
) -> np.ndarray:
    """One corrupted copy of a (H, W) or (H, W, C) image, or of a (D, H, W) volume with
    `spatial_dims` 3, in its dtype.

    Lengths scale with the image (sigma 3 px at 256 px), the intensity range is that of the
    dtype for integer images (0..255 for 8 bit) and the image's own range otherwise; `strength`
    scales each corruption (1 is the default used by every earlier benchmark):
    - blur: Gaussian blur of the spatial axes, sigma = 3 * strength * (shortest side) / 256;
    - noise: additive Gaussian noise, std = 0.2 * strength of the intensity range, clipped;
    - patch: a square (a cube in a volume) covering strength / 9 of the image (side: the
      shortest side times (strength / 9) ** (1 / spatial_dims)) at the range's maximum, at a
      seeded random position.

    Raises:
        SeguqError: an unknown kind or a strength that is not positive.
    """
    if kind not in CORRUPTIONS:
        raise SeguqError(f"unknown corruption '{kind}' (known: {', '.join(CORRUPTIONS)})")
    if not strength > 0:
        raise SeguqError(f"corruption strength must be positive, got {strength}")
    if np.issubdtype(image.dtype, np.integer):
        low, high = float(np.iinfo(image.dtype).min), float(np.iinfo(image.dtype).max)
    else:
        low, high = float(image.min()), float(image.max())
    data = image.astype(np.float64)
    shape = image.shape[:spatial_dims]
    side = min(shape)
    if kind == "blur":
        sigma = 3.0 * strength * side / 256.0
        channels = (0,) * (data.ndim - spatial_dims)
        out = gaussian_filter(data, sigma=(sigma,) * spatial_dims + channels)
    elif kind == "noise":
        out = data + rng.normal(0.0, 0.2 * strength * (high - low), size=data.shape)
    else:
        width = min(side, max(1, round(side * (strength / 9) ** (1 / spatial_dims))))
        corner = [int(rng.integers(0, n - width + 1)) for n in shape]
        out = data.copy()
        out[tuple(slice(c, c + width) for c in corner)] = high
    out = np.clip(out, low, high)
    if np.issubdtype(image.dtype, np.integer):
        out = np.round(out)
    return out.astype(image.dtype)


def corruption_name(kind: str, strength: float) -> str:
    """The set and id suffix of a corruption: "noise" at strength 1, "noise-2" or "blur-0.5"."""
    return kind if strength == 1 else f"{kind}-{strength:g}"


def corrupt_subset(
    subset_csv: Path,
    dst: Path,
    kind: str,
    *,
    strength: float = 1.0,
    limit: int | None = None,
    seed: int = 0,
    repo: Path,
) -> Path:
    """Corrupted copies of the images of a subset manifest (absolute paths), under `dst`.

    With `limit`, a seeded random subset of that many cases is corrupted. Ids get the suffix
    `_<name>` (`corruption_name`), domains become `corrupt_<name>`; other columns (masks) keep
    pointing at the originals. Reused when `dst/prepared.json` records the same settings.

    Returns:
        The manifest of the corrupted copies (`dst/manifest.csv`).

    Raises:
        SeguqError: `dst` inside the repository, an unreadable manifest or image, an unknown kind.
    """
    check_outside(dst, repo, "the corrupted images' folder")
    name = corruption_name(kind, strength)
    columns, rows = read_rows(subset_csv)
    if limit is not None and limit < len(rows):
        chosen = np.random.default_rng(seed).choice(len(rows), size=limit, replace=False)
        rows = [rows[i] for i in sorted(chosen)]
    settings = {"kind": kind, "seed": seed, "ids": [r["id"] for r in rows]}
    if strength != 1:
        settings["strength"] = strength
    settings["images"] = [r[IMAGE_COLUMN] for r in rows]
    marker = dst / MARKER
    if marker.is_file() and json.loads(marker.read_text()).get("settings") == settings:
        return dst / "manifest.csv"
    new_rows = []
    for index, row in enumerate(rows):
        src = Path(row[IMAGE_COLUMN])
        rng = np.random.default_rng([seed, index, sorted(CORRUPTIONS).index(kind)])
        volume = src.name.endswith((".nii.gz", ".nii"))
        file = f"images/{row['id']}_{name}.{'nii.gz' if volume else 'png'}"
        out = dst / file
        out.parent.mkdir(parents=True, exist_ok=True)
        (_corrupt_volume if volume else _corrupt_picture)(src, out, kind, rng, strength)
        new_rows.append(
            {**row, "id": f"{row['id']}_{name}", "domain": f"corrupt_{name}", IMAGE_COLUMN: file}
        )
    out_columns = list(columns) + [c for c in ("domain",) if c not in columns]
    write_rows(dst / "manifest.csv", out_columns, new_rows)
    atomic_write(
        marker,
        lambda tmp: tmp.write_text(
            json.dumps({"settings": settings, "cases": len(new_rows)}, indent=2)
        ),
    )
    return dst / "manifest.csv"


def _corrupt_picture(
    src: Path, out: Path, kind: str, rng: np.random.Generator, strength: float
) -> None:
    try:
        with Image.open(src) as handle:
            handle.load()
            mode, array = handle.mode, np.asarray(handle)
    except OSError as error:
        raise SeguqError(f"{src}: cannot read the image ({error})") from None
    corrupted = corrupt_image(array, kind, rng, strength)
    Image.fromarray(corrupted, mode=mode if mode in ("L", "RGB") else None).save(out)


def _corrupt_volume(
    src: Path, out: Path, kind: str, rng: np.random.Generator, strength: float
) -> None:
    """A NIfTI volume corrupted in 3D, written as float32 with the source's affine and header
    (the volume's own intensity range, whatever its stored type and scaling)."""
    try:
        image = nib.load(src)
        data = np.asarray(image.get_fdata(dtype=np.float32))
    except (OSError, ValueError, nib.filebasedimages.ImageFileError) as error:
        raise SeguqError(f"{src}: cannot read the volume ({error})") from None
    if data.ndim != 3:
        raise SeguqError(f"{src}: expected a 3D volume, got shape {data.shape}")
    corrupted = corrupt_image(data, kind, rng, strength, spatial_dims=3)
    header = image.header.copy()
    header.set_data_dtype(np.float32)
    nib.save(nib.Nifti1Image(corrupted.astype(np.float32), image.affine, header), out)
