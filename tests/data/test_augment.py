import numpy as np
import pytest

from seguq.data.augment import intensity_augmentation
from seguq.data.items import ItemSet
from seguq.data.patches import PatchDataset
from seguq.errors import SeguqError


def test_domain_randomisation_changes_images_not_masks():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(3, 32, 32)).astype(np.float32)
    labels = (rng.random((1, 32, 32)) > 0.5).astype(np.int64)
    slices = ItemSet([image], [labels], ["a"], ["site1"])
    plain = PatchDataset(slices, [32, 32], augment=False, seed=0)
    mixed = PatchDataset(
        slices,
        [32, 32],
        augment=False,
        seed=0,
        intensity=intensity_augmentation("domain", probability=1.0),
    )
    a, b = plain[0], mixed[0]
    assert np.array_equal(a["label"].numpy(), b["label"].numpy())
    assert np.allclose(a["image"].numpy(), image)
    assert not np.allclose(b["image"].numpy(), image)
    assert np.isfinite(b["image"].numpy()).all()


def test_unknown_augmentation_is_refused():
    assert intensity_augmentation("none") is None
    with pytest.raises(SeguqError, match="unknown 'strong'"):
        intensity_augmentation("strong")
