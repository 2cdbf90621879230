"""Patches: foreground oversampling, 3D patches, spatial augmentation keeping image and mask
aligned, crops beyond the border."""

from __future__ import annotations

import numpy as np
import torch

from seguq.data.items import ItemSet
from seguq.data.patches import PatchDataset, crop


def _items(shape, fg_box) -> ItemSet:
    rng = np.random.default_rng(0)
    labels = np.zeros((1, *shape), np.int64)
    labels[(slice(None), *fg_box)] = 1
    image = (labels * 5.0 + rng.normal(size=labels.shape)).astype(np.float32)
    return ItemSet([image], [labels], ["a"], ["site"])


def test_crop_pads_outside_the_array():
    array = np.arange(16, dtype=np.int64).reshape(1, 4, 4)
    out = crop(array, [-1, 2], [3, 3])
    assert out.shape == (1, 3, 3)
    assert out[0, 0].tolist() == [0, 0, 0] and out[0, 1].tolist() == [2, 3, 0]


def test_a_third_of_the_patches_hold_foreground_even_when_it_is_rare():
    items = _items((200, 200), (slice(150, 156), slice(10, 16)))  # 0.09% of the pixels
    plain = PatchDataset(items, [24, 24], length=300, seed=0)
    oversampled = PatchDataset(items, [24, 24], length=300, foreground_fraction=0.33, seed=0)
    share = np.mean([bool(oversampled[i]["label"].any()) for i in range(300)])
    base = np.mean([bool(plain[i]["label"].any()) for i in range(300)])
    assert share >= 0.3 and base < 0.05


def test_3d_patches_with_rotation_zoom_and_flips_keep_image_and_mask_aligned():
    items = _items((30, 34, 26), (slice(8, 20), slice(10, 24), slice(6, 18)))
    data = PatchDataset(
        items,
        [16, 16, 16],
        length=12,
        rotation=30.0,
        scaling=[0.7, 1.4],
        foreground_fraction=0.5,
        seed=3,
    )
    for i in range(12):
        item = data[i]
        assert item["image"].shape == (1, 16, 16, 16) and item["label"].shape == (16, 16, 16)
        assert set(torch.unique(item["label"]).tolist()) <= {0, 1}
        if item["label"].any():  # the foreground is where the bright voxels are
            inside = item["image"][0][item["label"] == 1].mean()
            outside = item["image"][0][item["label"] == 0].mean()
            assert inside > outside + 2


def test_draws_depend_on_seed_epoch_and_index_only():
    items = _items((40, 40), (slice(5, 15), slice(5, 15)))
    a = PatchDataset(items, [16, 16], length=4, rotation=15.0, scaling=[0.8, 1.2], seed=1)
    b = PatchDataset(items, [16, 16], length=4, rotation=15.0, scaling=[0.8, 1.2], seed=1)
    assert torch.equal(a[2]["image"], b[2]["image"])
    b.set_epoch(1)
    assert not torch.equal(a[2]["image"], b[2]["image"])
