"""Cases -> training items in memory: 2D images, 2D slices of volumes (2D networks) or whole
volumes (3D networks), preprocessed as the run says."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from seguq.data.arrays import to_slices
from seguq.data.case import Case
from seguq.data.io import Geometry, check_same_shape, read_image, read_mask, to_classes
from seguq.data.preprocess import Preprocessing
from seguq.data.sources import Source
from seguq.errors import SeguqError


@dataclass
class ItemSet:
    """Training material: one entry per item a network sees whole.

    Attributes:
        images: (C, *spatial) float32 network input (2 or 3 spatial axes).
        labels: (R, *spatial) int64 class indices from R annotators.
        case_ids: the case each item came from.
        domains: the domain of that case.
    """

    images: list[np.ndarray]
    labels: list[np.ndarray]
    case_ids: list[str]
    domains: list[str]

    def __len__(self) -> int:
        return len(self.images)

    @property
    def largest_shape(self) -> tuple[int, ...]:
        """The largest extent on each spatial axis over the items."""
        shapes = np.array([image.shape[1:] for image in self.images])
        return tuple(int(n) for n in shapes.max(axis=0))


def read_case(
    case: Case, source: Source, preprocessing: Preprocessing
) -> tuple[np.ndarray, np.ndarray | None, Geometry]:
    """A case as the network sees it.

    Returns:
        (image (C, *grid) float32, masks (R, *grid) int64 or None, the input's geometry).

    Raises:
        SeguqError: a file is missing, corrupt or not an image; a mask's shape differs from the
            image's; a mask holds values outside the label map.
    """
    raw, geometry = read_image(case.images)
    image = preprocessing.image(raw, geometry, case.image)
    if not case.masks:
        return image, None, geometry
    layers = []
    for path in case.masks:
        values, _ = read_mask(path)
        check_same_shape(raw, values, case.image, path)
        layers.append(to_classes(values, source.label_map, path))
    return image, preprocessing.masks(np.stack(layers), geometry), geometry


def load_items(
    source: Source,
    cases: Sequence[Case],
    preprocessing: Preprocessing,
    *,
    dims: int = 2,
    slice_axis: int = 2,
    labelled_only: bool = True,
) -> ItemSet:
    """Read and preprocess cases; volumes become 2D slices along `slice_axis` (dims 2) or stay
    whole (dims 3).

    Raises:
        SeguqError: a file is missing, corrupt or inconsistent; a 2D image for a 3D network.
    """
    out = ItemSet([], [], [], [])
    for case in cases:
        if labelled_only and not case.masks:
            continue
        image, masks, _ = read_case(case, source, preprocessing)
        if image.ndim == 4 and dims == 2:
            images = to_slices(image, slice_axis)
            labels = to_slices(masks, slice_axis) if masks is not None else [None] * len(images)
        elif image.ndim == 3 and dims == 3:
            raise SeguqError(f"{case.image}: a 3D network (data.dims 3) needs volumes")
        else:
            images, labels = [image], [masks]
        for img, lab in zip(images, labels, strict=True):
            out.images.append(np.ascontiguousarray(img, dtype=np.float32))
            out.labels.append(lab)
            out.case_ids.append(case.id)
            out.domains.append(case.domain)
    return out


class ItemDataset(Dataset):
    """Whole items for validation: {"image": (C, *spatial), "label": (*spatial) first
    annotator}."""

    def __init__(self, items: ItemSet):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {
            "image": torch.as_tensor(self.items.images[index]),
            "label": torch.as_tensor(self.items.labels[index][0], dtype=torch.long),
        }
