"""Cases -> in-memory 2D slices, and the patch datasets that feed training and validation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from monai.transforms import Compose, RandFlipd, RandSpatialCropd, SpatialPadd
from torch.utils.data import Dataset

from seguq.data.arrays import load_case, match_channels, to_slices
from seguq.data.case import Case
from seguq.data.sources import Source


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
    (`rater="random"`) or always the first.
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
    ):
        self.slices = slices
        self.length = length or len(slices)
        self.rater = rater
        self.rng = np.random.default_rng(seed)
        steps = [
            SpatialPadd(["image", "label"], spatial_size=list(patch_size)),
            RandSpatialCropd(["image", "label"], roi_size=list(patch_size), random_size=False),
        ]
        if augment:
            steps += [
                RandFlipd(["image", "label"], prob=0.5, spatial_axis=0),
                RandFlipd(["image", "label"], prob=0.5, spatial_axis=1),
            ]
        self.transform = Compose(steps).set_random_state(seed=seed)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        i = index % len(self.slices)
        masks = self.slices.labels[i]
        r = int(self.rng.integers(len(masks))) if self.rater == "random" else 0
        item = self.transform(
            {"image": self.slices.images[i], "label": masks[r : r + 1].astype(np.int64)}
        )
        image = torch.as_tensor(np.asarray(item["image"]), dtype=torch.float32)
        label = torch.as_tensor(np.asarray(item["label"]), dtype=torch.long)[0]
        return {"image": image, "label": label}


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
