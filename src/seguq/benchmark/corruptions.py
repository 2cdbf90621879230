"""Corrupted copies of test images (blur, noise, a bright patch) at several strengths (OOD sets).

Written outside the repository, reused when their `prepared.json` records the same settings.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from seguq.benchmark.prepare import IMAGE_COLUMN, MARKER, check_outside, read_rows, write_rows
from seguq.errors import SeguqError

CORRUPTIONS = ("blur", "noise", "patch")


def corrupt_image(
    image: np.ndarray, kind: str, rng: np.random.Generator, strength: float = 1.0
) -> np.ndarray:
    """One corrupted copy of a (H, W) or (H, W, C) image, in its dtype.

    Lengths scale with the image (sigma 3 px at 256 px), the intensity range is that of the
    dtype for integer images (0..255 for 8 bit) and the image's own range otherwise; `strength`
    scales each corruption (1 is the default used by every earlier benchmark):
    - blur: Gaussian blur of the spatial axes, sigma = 3 * strength * min(H, W) / 256;
    - noise: additive Gaussian noise, std = 0.2 * strength of the intensity range, clipped;
    - patch: a square covering strength / 9 of the image (side min(H, W) * sqrt(strength) / 3)
      at the range's maximum, at a seeded random position.

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
    side = min(image.shape[:2])
    if kind == "blur":
        sigma = 3.0 * strength * side / 256.0
        out = gaussian_filter(data, sigma=(sigma, sigma) + (0,) * (data.ndim - 2))
    elif kind == "noise":
        out = data + rng.normal(0.0, 0.2 * strength * (high - low), size=data.shape)
    else:
        width = min(side, max(1, round(side * np.sqrt(strength) / 3)))
        top = int(rng.integers(0, image.shape[0] - width + 1))
        left = int(rng.integers(0, image.shape[1] - width + 1))
        out = data.copy()
        out[top : top + width, left : left + width] = high
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
        try:
            with Image.open(src) as handle:
                handle.load()
                mode, array = handle.mode, np.asarray(handle)
        except OSError as error:
            raise SeguqError(f"{src}: cannot read the image ({error})") from None
        rng = np.random.default_rng([seed, index, sorted(CORRUPTIONS).index(kind)])
        corrupted = corrupt_image(array, kind, rng, strength)
        file = f"images/{row['id']}_{name}.png"
        out = dst / file
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(corrupted, mode=mode if mode in ("L", "RGB") else None).save(out)
        new_rows.append(
            {**row, "id": f"{row['id']}_{name}", "domain": f"corrupt_{name}", IMAGE_COLUMN: file}
        )
    out_columns = list(columns) + [c for c in ("domain",) if c not in columns]
    write_rows(dst / "manifest.csv", out_columns, new_rows)
    marker.write_text(json.dumps({"settings": settings, "cases": len(new_rows)}, indent=2))
    return dst / "manifest.csv"
