"""A Medical Segmentation Decathlon folder as a benchmark source: a manifest of its labelled
volumes, read in place, with a seeded train/test split by volume.

    sources:
      hippocampus: {path: hippocampus_msd, kind: msd, test_fraction: 0.2, seed: 0}

The volumes are not copied (the manifest holds their absolute paths); the split is the same
for the same `dataset.json`, fraction and seed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from seguq.benchmark.prepare import write_rows
from seguq.errors import SeguqError


def msd_split(root: Path, dst: Path, *, test_fraction: float = 0.2, seed: int = 0) -> int:
    """Write `dst/manifest.csv` (id, domain, split, image, mask) for the MSD folder `root`.

    Returns:
        The number of volumes.

    Raises:
        SeguqError: no dataset.json, no training entries, a listed file missing, or a test
            fraction outside (0, 1).
    """
    if not 0 < test_fraction < 1:
        raise SeguqError(f"{root}: test_fraction must lie in (0, 1), got {test_fraction}")
    dataset_json = root / "dataset.json"
    if not dataset_json.is_file():
        raise SeguqError(f"{root}: no dataset.json (not a Medical Segmentation Decathlon folder)")
    entries = json.loads(dataset_json.read_text(encoding="utf-8")).get("training") or []
    if not entries:
        raise SeguqError(f"{dataset_json}: lists no training cases")
    pairs = sorted((root / e["image"], root / e["label"]) for e in entries)
    for path in (p for pair in pairs for p in pair):
        if not path.is_file():
            raise SeguqError(f"{dataset_json}: lists {path}, which does not exist")
    count = max(1, round(test_fraction * len(pairs)))
    test = set(np.random.default_rng(seed).choice(len(pairs), size=count, replace=False).tolist())
    domain = root.name
    rows = [
        {
            "id": image.name.split(".")[0],
            "domain": domain,
            "split": "test" if index in test else "train",
            "image": str(image.resolve()),
            "mask": str(label.resolve()),
        }
        for index, (image, label) in enumerate(pairs)
    ]
    dst.mkdir(parents=True, exist_ok=True)
    write_rows(dst / "manifest.csv", ["id", "domain", "split", "image", "mask"], rows)
    return len(rows)
