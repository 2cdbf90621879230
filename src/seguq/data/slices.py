"""Cases -> in-memory 2D slices, and the patch datasets that feed training and validation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from monai.transforms import Compose, RandFlipd, RandSpatialCropd, SpatialPadd
from torch.utils.data import Dataset

from seguq.config_checks import RATERS
from seguq.data.arrays import load_case, match_channels, to_slices
from seguq.data.case import Case
from seguq.data.sources import Source
from seguq.errors import SeguqError


@dataclass
class SliceSet:
    """2D training material: one entry per slice (a 2D image is one slice).

    Attributes:
        images: (C, H, W) float32 normalised images.
        labels: (R, H, W) int64 class indices from R annotators.
        case_ids: the case each slice came from.
        domains: the domain of that case.
    """

    images: list[np.ndarray]
    labels: list[np.ndarray]
    case_ids: list[str]
    domains: list[str]

    def __len__(self) -> int:
        return len(self.images)


def load_slices(
    source: Source,
    cases: Sequence[Case],
    *,
    slice_axis: int = 2,
    in_channels: int | None = None,
    labelled_only: bool = True,
) -> SliceSet:
    """Read cases and cut volumes into 2D slices along `slice_axis`.

    Args:
        source: the source the cases belong to (label map).
        cases: the cases to load.
        slice_axis: spatial axis (0..2) along which 3D volumes are cut.
        in_channels: channel count to convert images to (None keeps each image's own).
        labelled_only: skip cases without a mask.

    Raises:
        SeguqError: a file is missing, corrupt or inconsistent (from the readers).
    """
    out = SliceSet([], [], [], [])
    for case in cases:
        if labelled_only and not case.masks:
            continue
        arrays = load_case(case, source)
        image = arrays.image
        if in_channels is not None:
            image = match_channels(image, in_channels, case.image)
        masks = arrays.masks
        if image.ndim == 4:
            images = to_slices(image, slice_axis)
            labels = to_slices(masks, slice_axis) if masks is not None else [None] * len(images)
        else:
            images, labels = [image], [masks]
        for img, lab in zip(images, labels, strict=True):
            out.images.append(np.ascontiguousarray(img, dtype=np.float32))
            out.labels.append(lab)
            out.case_ids.append(case.id)
            out.domains.append(case.domain)
    return out


class PatchDataset(Dataset):
    """Random patches of the training slices, with one annotator's mask per item.

    Each item is {"image": (C, h, w) float32, "label": (h, w) int64} with (h, w) = patch_size;
    slices
    smaller than the patch are zero-padded (label 0). The annotator is random per item
    (`rater="random"`) or always the first. `intensity` is an optional image-only transform
    applied after cropping and flipping (see `seguq.data.augment`). With `rater="all"` the item
    also holds
    "labels": (R, h, w) int64, every annotator's mask cropped and flipped with the image, R the
    largest annotator count of the slices: a slice with fewer annotators repeats its masks
    cyclically (masks r % R_slice) so that batches collate; "label" is then a random one of them.
    The random draws of item `index` depend only on (seed, epoch, index) (`set_epoch`).

    Raises:
        SeguqError: `rater` is not "random", "first" or "all".
    """

    def __init__(
        self,
        slices: SliceSet,
        patch_size: Sequence[int],
        *,
        length: int | None = None,
        augment: bool = True,
        rater: str = "random",
        seed: int = 0,
        intensity: Compose | None = None,
    ):
        self.slices = slices
        self.length = length or len(slices)
        if rater not in RATERS:
            raise SeguqError(f"data.rater: unknown '{rater}' (known: {', '.join(RATERS)})")
        self.rater = rater
        self.num_raters = max(len(m) for m in slices.labels) if rater == "all" else 1
        self.seed = seed
        self.epoch = 0
        steps = [
            SpatialPadd(["image", "label"], spatial_size=list(patch_size)),
            RandSpatialCropd(["image", "label"], roi_size=list(patch_size), random_size=False),
        ]
        if augment:
            steps += [
                RandFlipd(["image", "label"], prob=0.5, spatial_axis=0),
                RandFlipd(["image", "label"], prob=0.5, spatial_axis=1),
            ]
        if intensity is not None:
            steps.append(intensity)  # image-only (e.g. domain randomisation, data/augment.py)
        self.transform = Compose(steps)

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        """Items of epoch `epoch` from now on (their random draws depend on it)."""
        self.epoch = int(epoch)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        # Every random draw of an item is a function of (seed, epoch, index) alone, so that a
        # resumed training sees exactly the patches an uninterrupted one would.
        rng = np.random.default_rng([self.seed, self.epoch, index])
        self.transform.set_random_state(seed=int(rng.integers(2**31)))
        i = index % len(self.slices)
        masks = self.slices.labels[i]
        r = int(rng.integers(len(masks))) if self.rater in ("random", "all") else 0
        # "all": every mask, repeated cyclically up to num_raters; otherwise annotator r alone.
        if self.rater == "all":
            chosen = masks[np.arange(self.num_raters) % len(masks)]
        else:
            chosen = masks[r : r + 1]
        item = self.transform({"image": self.slices.images[i], "label": chosen.astype(np.int64)})
        image = torch.as_tensor(np.asarray(item["image"]), dtype=torch.float32)
        labels = torch.as_tensor(np.asarray(item["label"]), dtype=torch.long)
        if self.rater != "all":
            return {"image": image, "label": labels[0]}
        return {"image": image, "label": labels[r], "labels": labels}


class SliceDataset(Dataset):
    """Whole slices for validation: {"image": (C, H, W), "label": (H, W) first annotator}."""

    def __init__(self, slices: SliceSet):
        self.slices = slices

    def __len__(self) -> int:
        return len(self.slices)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {
            "image": torch.as_tensor(self.slices.images[index]),
            "label": torch.as_tensor(self.slices.labels[index][0], dtype=torch.long),
        }
