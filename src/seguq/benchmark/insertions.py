"""OOD regions: foreign content inserted into in-distribution images, with the mask of where.

Two kinds of content, both drawn in the host image's own intensity range (between its 1st and
99th percentiles), so that brightness alone does not give them away:
- patch: a square cut from a donor image of another modality (ultrasound in an X-ray, an MRI
  slice in a fundus photograph), resized to the patch and mapped to the host's range;
- object: a synthetic ellipse filled with a striped texture that no anatomy has.
Each covers `fraction` of the image (default 1/16), at a seeded random position away from the
border. `write_insertion_set` writes the altered images, their region masks (PNG, 255 inside) and
a manifest (id, image, an empty mask, region, kind, host) outside the repository.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from seguq.benchmark.prepare import MARKER, check_outside, source_tree, write_rows
from seguq.data.io import atomic_write
from seguq.errors import SeguqError

KINDS = ("patch", "object")


def _range(host: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(host, [1, 99])
    return float(low), float(high) if high > low else float(low) + 1.0


def _place(shape: tuple[int, int], side: tuple[int, int], rng: np.random.Generator) -> tuple:
    """(top, left) of a box of `side` inside the middle 80% of an image of `shape`."""
    margin = [round(0.1 * s) for s in shape]
    top = int(rng.integers(margin[0], max(margin[0], shape[0] - margin[0] - side[0]) + 1))
    left = int(rng.integers(margin[1], max(margin[1], shape[1] - margin[1] - side[1]) + 1))
    return top, left


def _as_grey(picture: np.ndarray) -> np.ndarray:
    return picture.mean(-1) if picture.ndim == 3 else picture


def _to_host(content: np.ndarray, host: np.ndarray) -> np.ndarray:
    """(h, w) content in [0, 1] -> the host's intensity range and channels."""
    low, high = _range(host)
    values = low + content * (high - low)
    if host.ndim == 3:
        values = np.repeat(values[..., None], host.shape[2], axis=2)
    return values


def insert_patch(
    host: np.ndarray, donor: np.ndarray, rng: np.random.Generator, fraction: float = 1 / 16
) -> tuple[np.ndarray, np.ndarray]:
    """Paste a square of `donor` into `host` ((H, W) or (H, W, C) arrays).

    Returns:
        (the altered image in the host's dtype, bool (H, W) mask of the inserted square).
    """
    shape = host.shape[:2]
    side = max(2, round(min(shape) * np.sqrt(fraction)))
    grey = _as_grey(donor.astype(np.float64))
    crop = min(grey.shape)
    top, left = (int(rng.integers(0, g - crop + 1)) for g in grey.shape)
    square = grey[top : top + crop, left : left + crop]
    low, high = np.percentile(square, [1, 99])
    scaled = np.clip((square - low) / (high - low if high > low else 1.0), 0, 1)
    picture = Image.fromarray((scaled * 255).astype(np.uint8)).resize((side, side))
    content = np.asarray(picture, dtype=np.float64) / 255.0
    return _paste(host, _to_host(content, host), np.ones((side, side), bool), rng)


def insert_object(
    host: np.ndarray, rng: np.random.Generator, fraction: float = 1 / 16
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a striped ellipse covering `fraction` of `host`.

    Returns:
        (the altered image in the host's dtype, bool (H, W) mask of the ellipse).
    """
    shape = host.shape[:2]
    area = fraction * shape[0] * shape[1]
    aspect = float(rng.uniform(0.6, 1.6))
    a = np.sqrt(area * aspect / np.pi)
    b = area / (np.pi * a)
    box = (min(shape[0], max(3, round(2 * b))), min(shape[1], max(3, round(2 * a))))
    yy, xx = np.mgrid[: box[0], : box[1]]
    cy, cx = (box[0] - 1) / 2, (box[1] - 1) / 2
    inside = ((yy - cy) / max(b, 1)) ** 2 + ((xx - cx) / max(a, 1)) ** 2 <= 1
    period = max(3.0, min(box) / 5)
    angle = float(rng.uniform(0, np.pi))
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period)
    return _paste(host, _to_host(stripes, host), inside, rng)


def _paste(
    host: np.ndarray, content: np.ndarray, inside: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    top, left = _place(host.shape[:2], inside.shape, rng)
    out = host.astype(np.float64)
    region = np.zeros(host.shape[:2], bool)
    window = (slice(top, top + inside.shape[0]), slice(left, left + inside.shape[1]))
    out[window][inside] = content[inside]
    region[window] = inside
    if np.issubdtype(host.dtype, np.integer):
        info = np.iinfo(host.dtype)
        out = np.clip(np.round(out), info.min, info.max)
    return out.astype(host.dtype), region


def write_insertion_set(
    hosts: Sequence[tuple[str, Path]],
    donors: Sequence[Path],
    dst: Path,
    kinds: Sequence[str] = KINDS,
    fraction: float = 1 / 16,
    seed: int = 0,
) -> Path:
    """Write one altered copy of each host image per kind, their region masks and a manifest.

    Args:
        hosts: (case id, image path) of 2D in-distribution images (PNG, JPEG, TIFF).
        donors: 2D images of another modality for the patches (cycled over the hosts).
        dst: the output folder (outside the repository).
        kinds: "patch" and/or "object".
        fraction: the share of each image covered by the inserted content.
        seed: the random positions, crops and textures.

    Returns:
        `dst / "manifest.csv"` (columns id, image, mask (empty), region, kind, host); reused
        as it is when `dst` holds a set written with the same settings.

    Raises:
        SeguqError: an unknown kind, no donors for patches, a bad fraction, or unreadable images.
    """
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise SeguqError(f"unknown insertion kind '{unknown[0]}' (known: {', '.join(KINDS)})")
    if "patch" in kinds and not donors:
        raise SeguqError("insertions of kind 'patch' need donor images of another modality")
    if not 0 < fraction < 0.5:
        raise SeguqError(f"insertion fraction must be in (0, 0.5), got {fraction}")
    dst = Path(dst)
    check_outside(dst, source_tree(), "insertion set")
    settings = {
        "hosts": [[i, str(p)] for i, p in hosts],
        "donors": [str(p) for p in donors],
        "kinds": list(kinds),
        "fraction": fraction,
        "seed": seed,
    }
    manifest = dst / "manifest.csv"
    marker = dst / MARKER
    if manifest.is_file() and marker.is_file() and json.loads(marker.read_text()) == settings:
        return manifest
    (dst / "images").mkdir(parents=True, exist_ok=True)
    (dst / "regions").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for index, (case_id, path) in enumerate(hosts):
        host = _read(path)
        for kind in kinds:
            if kind == "patch":
                donor = _read(donors[index % len(donors)])
                image, region = insert_patch(host, donor, rng, fraction)
            else:
                image, region = insert_object(host, rng, fraction)
            name = f"{case_id}_{kind}"
            Image.fromarray(image).save(dst / "images" / f"{name}.png")
            Image.fromarray((region * 255).astype(np.uint8)).save(dst / "regions" / f"{name}.png")
            rows.append(
                {
                    "id": name,
                    "image": f"images/{name}.png",
                    "mask": "",  # unlabelled: the content covers part of the anatomy
                    "region": f"regions/{name}.png",
                    "kind": kind,
                    "host": case_id,
                }
            )
    write_rows(manifest, ["id", "image", "mask", "region", "kind", "host"], rows)
    atomic_write(marker, lambda tmp: tmp.write_text(json.dumps(settings, indent=2)))
    return manifest


def _read(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as picture:
            array = np.asarray(picture)
    except (OSError, ValueError) as error:
        raise SeguqError(f"{path}: cannot read this image ({error})") from error
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[..., :3]
    if array.ndim not in (2, 3):
        raise SeguqError(f"{path}: expected a 2D image, got shape {array.shape}")
    return array
