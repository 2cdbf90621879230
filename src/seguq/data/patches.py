"""Random training patches (2D or 3D) with foreground oversampling and augmentation.

Every random draw of item `index` is a function of (seed, epoch, index) alone (`set_epoch`), so
that a resumed training sees exactly the patches an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.transforms import Compose
from torch.utils.data import Dataset

from seguq.config_checks import RATERS
from seguq.data.augment import extended_size, spatial_augmentation
from seguq.data.items import ItemSet
from seguq.errors import SeguqError

# Foreground voxels remembered per item and class (nnU-Net keeps 10,000 as well).
LOCATIONS_PER_CLASS = 10_000


def crop(array: np.ndarray, start: Sequence[int], size: Sequence[int]) -> np.ndarray:
    """array[:, start : start + size] on each spatial axis, zero-padded where it leaves the
    array. `array` is (C, *spatial)."""
    out = np.zeros((array.shape[0], *size), dtype=array.dtype)
    source, target = [slice(None)], [slice(None)]
    for begin, length, extent in zip(start, size, array.shape[1:], strict=True):
        low, high = max(begin, 0), min(begin + length, extent)
        if high <= low:
            return out
        source.append(slice(low, high))
        target.append(slice(low - begin, high - begin))
    out[tuple(target)] = array[tuple(source)]
    return out


def foreground_locations(items: ItemSet, seed: int) -> dict[int, list[tuple[int, np.ndarray]]]:
    """class k >= 1 -> [(item, (n, dims) voxel coordinates)] for the items holding k (any
    annotator), at most LOCATIONS_PER_CLASS voxels each (a seeded sample)."""
    rng = np.random.default_rng([seed, 104729])
    locations: dict[int, list[tuple[int, np.ndarray]]] = {}
    for i, labels in enumerate(items.labels):
        for k in np.unique(labels):
            if k <= 0:
                continue
            where = np.argwhere((labels == k).any(axis=0))
            if len(where) > LOCATIONS_PER_CLASS:
                where = where[rng.choice(len(where), LOCATIONS_PER_CLASS, replace=False)]
            locations.setdefault(int(k), []).append((i, where.astype(np.int32)))
    return locations


class PatchDataset(Dataset):
    """Random patches of the training items, with one annotator's mask per item.

    Each item is {"image": (C, *patch) float32, "label": (*patch) int64}; items smaller than the
    patch are zero-padded (label 0). A `foreground_fraction` of the patches is centred on a
    random foreground voxel of a random class (then of a random item holding it); the others
    are random crops of item `index % len(items)`. The annotator is random per item
    (`rater="random"`) or always the first. With `rater="all"` the item also holds "labels":
    (R, *patch) int64, every annotator's mask transformed with the image, R the largest
    annotator count (a item with fewer repeats its masks cyclically); "label" is a random one.

    Args:
        items: the training items.
        patch_size: the patch, one side per spatial axis.
        length: items per epoch (default: len(items)).
        augment: random flips (along `flip_axes`, default every axis).
        flip_axes: patch axes that may be flipped.
        rotation: random rotation up to this many degrees (0: none).
        scaling: random zoom range (low, high); () for none.
        foreground_fraction: the share of patches centred on foreground.
        rater: "random", "first" or "all".
        seed: the run's seed.
        intensity: an optional image-only transform after the spatial ones.

    Raises:
        SeguqError: `rater` is not "random", "first" or "all".
    """

    def __init__(
        self,
        items: ItemSet,
        patch_size: Sequence[int],
        *,
        length: int | None = None,
        augment: bool = True,
        flip_axes: Sequence[int] | None = None,
        rotation: float = 0.0,
        scaling: Sequence[float] = (),
        foreground_fraction: float = 0.0,
        rater: str = "random",
        seed: int = 0,
        intensity: Compose | None = None,
    ):
        if rater not in RATERS:
            raise SeguqError(f"data.rater: unknown '{rater}' (known: {', '.join(RATERS)})")
        self.items = items
        self.patch_size = [int(p) for p in patch_size]
        self.length = length or len(items)
        self.rater = rater
        self.num_raters = max(len(m) for m in items.labels) if rater == "all" else 1
        self.seed = seed
        self.epoch = 0
        self.foreground_fraction = foreground_fraction
        self.locations = foreground_locations(items, seed) if foreground_fraction > 0 else {}
        self.read_size = extended_size(self.patch_size, rotation, scaling)
        axes = range(len(self.patch_size)) if flip_axes is None else flip_axes
        steps = spatial_augmentation(
            self.patch_size,
            rotation=rotation,
            scaling=scaling,
            flip_axes=list(axes) if augment else [],
        )
        if intensity is not None:
            steps.append(intensity)
        self.transform = Compose(steps) if steps else None

    @classmethod
    def for_run(cls, items: ItemSet, data, *, length: int, seed: int = 0) -> PatchDataset:
        """The patches a run's `DataConfig` asks for (augmentation, sampling, annotators)."""
        from seguq.data.augment import intensity_augmentation

        return cls(
            items,
            data.patch_size,
            length=length,
            augment=data.augment,
            flip_axes=data.flip_axes,
            rotation=data.rotation,
            scaling=data.scaling,
            foreground_fraction=data.foreground_fraction,
            rater=data.rater,
            seed=seed,
            intensity=intensity_augmentation(data.intensity_augment),
        )

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        """Items of epoch `epoch` from now on (their random draws depend on it)."""
        self.epoch = int(epoch)

    def _window(self, rng: np.random.Generator, index: int) -> tuple[int, list[int]]:
        """(item, start corner of the read window)."""
        size = self.read_size
        if self.locations and rng.random() < self.foreground_fraction:
            k = sorted(self.locations)[int(rng.integers(len(self.locations)))]
            i, voxels = self.locations[k][int(rng.integers(len(self.locations[k])))]
            centre = voxels[int(rng.integers(len(voxels)))]
            return i, [int(c) - s // 2 for c, s in zip(centre, size, strict=True)]
        i = index % len(self.items)
        shape = self.items.images[i].shape[1:]
        # Random crop inside the item; an item smaller than the window is centred in it.
        starts = [
            int(rng.integers(0, n - s + 1)) if n >= s else -((s - n) // 2)
            for n, s in zip(shape, size, strict=True)
        ]
        return i, starts

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        i, start = self._window(rng, index)
        masks = self.items.labels[i]
        r = int(rng.integers(len(masks))) if self.rater in ("random", "all") else 0
        # "all": every mask, repeated cyclically up to num_raters; otherwise annotator r alone.
        if self.rater == "all":
            chosen = masks[np.arange(self.num_raters) % len(masks)]
        else:
            chosen = masks[r : r + 1]
        item = {
            "image": crop(self.items.images[i], start, self.read_size),
            "label": crop(chosen.astype(np.int64), start, self.read_size),
        }
        if self.read_size != self.patch_size and self.transform is None:
            raise AssertionError("an extended window needs the spatial transform")
        if self.transform is not None:
            self.transform.set_random_state(seed=int(rng.integers(2**31)))
            item = self.transform(item)
        image = torch.as_tensor(np.asarray(item["image"]), dtype=torch.float32)
        labels = torch.as_tensor(np.asarray(item["label"]), dtype=torch.long)
        if self.rater != "all":
            return {"image": image, "label": labels[0]}
        return {"image": image, "label": labels[r], "labels": labels}
