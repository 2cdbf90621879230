import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from seguq.data.items import ItemSet
from seguq.data.patches import PatchDataset
from seguq.errors import SeguqError


def _slices() -> ItemSet:
    """Two 8x8 slices: one with 3 annotators, one with a single annotator.

    The image holds the pixel index, so that every mask can be checked against the crop; rater r
    of the first slice marks the pixels whose index is divisible by r + 2.
    """
    index = np.arange(64, dtype=np.float32).reshape(1, 8, 8)
    three = np.stack([(index[0] % (r + 2) == 0) for r in range(3)]).astype(np.int64)
    one = (index % 5 == 0).astype(np.int64)
    return ItemSet([index, index.copy()], [three, one], ["a", "b"], ["site1", "site1"])


def test_rater_all_gives_every_mask_cropped_and_flipped_with_the_image():
    data = PatchDataset(_slices(), [6, 6], length=6, rater="all", seed=0)
    for i in range(6):
        item = data[i]
        image, labels = item["image"][0], item["labels"]
        assert labels.shape == (3, 6, 6) and labels.dtype == torch.long
        if i % 2 == 0:  # three annotators
            for r in range(3):
                assert torch.equal(labels[r], (image % (r + 2) == 0).long())
        else:  # one annotator, repeated to three
            assert all(torch.equal(labels[r], (image % 5 == 0).long()) for r in range(3))
        assert any(torch.equal(item["label"], labels[r]) for r in range(3))


def test_rater_all_batches_collate():
    data = PatchDataset(_slices(), [6, 6], length=4, rater="all", seed=0)
    batch = next(iter(DataLoader(data, batch_size=4)))
    assert batch["labels"].shape == (4, 3, 6, 6) and batch["label"].shape == (4, 6, 6)


@pytest.mark.parametrize("rater", ["random", "first"])
def test_other_raters_give_one_mask(rater):
    item = PatchDataset(_slices(), [6, 6], rater=rater, seed=0)[0]
    assert set(item) == {"image", "label"} and item["label"].shape == (6, 6)
    if rater == "first":
        assert torch.equal(item["label"], (item["image"][0] % 2 == 0).long())


def test_unknown_rater_is_refused():
    with pytest.raises(SeguqError, match="data.rater"):
        PatchDataset(_slices(), [6, 6], rater="every")
