"""A dataset fingerprint: what the plan needs to know about the training data, computed once
and cached (per-user cache folder, keyed by the files' names, sizes and times; a copy is saved
in every run).

Per case: spatial shape, spacing, channels; foreground intensities (a seeded sample per case);
per class: the share of voxels, the share of cases holding it, its typical thickness (twice the
volume over the surface, in voxels: the width of a vessel, the diameter of a blob) and where its
centre of mass lies on each axis (for lateralised classes, e.g. left and right lung).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from seguq.data.case import Case
from seguq.data.io import check_same_shape, read_image, read_mask, to_classes
from seguq.data.sources import Source
from seguq.data.synthetic.cache import cache_root

VERSION = 1
# Cases read at most (a seeded sample beyond), and foreground intensities kept per case.
MAX_CASES = 300
INTENSITIES_PER_CASE = 2_000


@dataclass
class Fingerprint:
    """What the planner knows about a data set (JSON-safe).

    Attributes:
        cases: cases read.
        dims: spatial axes of the images (2 or 3).
        channels: image channels.
        modalities: per channel ("CT", "MRI", ...; "" when unknown).
        shapes: spatial shape per case.
        spacings: spacing per case (1.0 per axis for 2D image files).
        intensity: per channel {"mean", "std", "p00_5", "p99_5"} of foreground intensities.
        class_names: class index -> name.
        class_fraction: per class, its share of all voxels.
        class_presence: per class, the share of cases holding it.
        thickness: per foreground class, the median over cases of 2 * volume / surface.
        low_side: per foreground class and axis, the share of cases whose centre of the class
            lies in the lower half of that axis.
    """

    cases: int
    dims: int
    channels: int
    modalities: list[str]
    shapes: list[list[int]]
    spacings: list[list[float]]
    intensity: list[dict[str, float]]
    class_names: list[str]
    class_fraction: list[float]
    class_presence: list[float]
    thickness: list[float]
    low_side: list[list[float]]
    key: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def median_shape(self) -> list[float]:
        return [float(v) for v in np.median(np.array(self.shapes), axis=0)]

    @property
    def median_spacing(self) -> list[float]:
        return [float(v) for v in np.median(np.array(self.spacings), axis=0)]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> Fingerprint:
        return cls(**raw)


def fingerprint_key(source: Source, cases: Sequence[Case]) -> str:
    """A hash of what the fingerprint depends on: the files (names, sizes, times) and labels."""
    digest = hashlib.sha256(f"v{VERSION}|{sorted(source.label_map.items())}".encode())
    for case in cases:
        for path in (*case.images, *case.masks):
            stat = Path(path).stat()
            digest.update(f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]


def dataset_fingerprint(
    source: Source, cases: Sequence[Case], *, cache: bool = True
) -> Fingerprint:
    """The fingerprint of `cases` (labelled cases of `source`), from the cache when it has it.

    Raises:
        SeguqError: a file cannot be read (from the readers); no labelled case.
    """
    from seguq.errors import SeguqError

    labelled = [c for c in cases if c.masks]
    if not labelled:
        raise SeguqError(f"{source.name}: no labelled case to plan from")
    key = fingerprint_key(source, labelled)
    path = cache_root() / "fingerprints" / f"{key}.json"
    if cache and path.is_file():
        try:
            return Fingerprint.from_dict(json.loads(path.read_text()))
        except (ValueError, TypeError):
            pass  # an unreadable cache entry is computed again
    result = _compute(source, labelled)
    result.key = key
    if cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            temp.write_text(json.dumps(result.to_dict()))
            os.replace(temp, path)
        except OSError:
            pass  # a read-only cache only costs the time to compute it again
    return result


def _compute(source: Source, cases: list[Case]) -> Fingerprint:
    rng = np.random.default_rng(0)
    notes = []
    if len(cases) > MAX_CASES:
        chosen = sorted(rng.choice(len(cases), MAX_CASES, replace=False))
        notes.append(f"read {MAX_CASES} of {len(cases)} cases (a seeded sample)")
        cases = [cases[i] for i in chosen]
    num_classes = max(source.num_classes, 1)
    shapes, spacings, samples = [], [], []
    voxels = np.zeros(num_classes)
    presence = np.zeros(num_classes)
    thickness: list[list[float]] = [[] for _ in range(num_classes)]
    low_side: list[list[list[float]]] = [[] for _ in range(num_classes)]
    channels = 0
    for case in cases:
        image, geometry = read_image(case.images)
        raw, _ = read_mask(case.mask)
        check_same_shape(image, raw, case.image, case.mask)
        labels = to_classes(raw, source.label_map, case.mask)
        channels = image.shape[0]
        shapes.append([int(s) for s in geometry.shape])
        spacings.append([float(s) for s in (geometry.spacing or (1.0,) * len(geometry.shape))])
        foreground = labels > 0
        values = image[:, foreground] if foreground.any() else image.reshape(channels, -1)
        take = min(INTENSITIES_PER_CASE, values.shape[1])
        samples.append(values[:, rng.choice(values.shape[1], take, replace=False)])
        counts = np.bincount(labels.ravel(), minlength=num_classes)[:num_classes]
        voxels += counts
        presence += counts > 0
        for k in range(1, num_classes):
            if counts[k]:
                mask = labels == k
                thickness[k].append(_thickness(mask))
                centre = np.argwhere(mask).mean(axis=0)
                halves = zip(centre, mask.shape, strict=True)
                low_side[k].append([float(c < (n - 1) / 2) for c, n in halves])
    pooled = np.concatenate(samples, axis=1).astype(np.float64)
    intensity = [
        {
            "mean": float(pooled[c].mean()),
            "std": float(pooled[c].std()),
            "p00_5": float(np.percentile(pooled[c], 0.5)),
            "p99_5": float(np.percentile(pooled[c], 99.5)),
        }
        for c in range(channels)
    ]
    dims = len(shapes[0])
    modalities = list(source.modalities) + [""] * (channels - len(source.modalities))
    return Fingerprint(
        cases=len(cases),
        dims=dims,
        channels=channels,
        modalities=modalities[:channels],
        shapes=shapes,
        spacings=spacings,
        intensity=intensity,
        class_names=list(source.class_names),
        class_fraction=[float(v) for v in voxels / max(voxels.sum(), 1)],
        class_presence=[float(v) for v in presence / len(cases)],
        thickness=[float(np.median(t)) if t else 0.0 for t in thickness],
        low_side=[
            [float(v) for v in np.mean(sides, axis=0)] if sides else [0.5] * dims
            for sides in low_side
        ],
        notes=notes,
    )


def _thickness(mask: np.ndarray) -> float:
    """2 * volume / surface of a binary mask, in voxels (surface: voxels with a neighbour
    outside the mask along some axis)."""
    inner = mask.copy()
    for axis in range(mask.ndim):
        for shift in (1, -1):
            inner &= np.roll(mask, shift, axis=axis)
    surface = int(mask.sum() - inner.sum())
    return 2.0 * float(mask.sum()) / max(surface, 1)
