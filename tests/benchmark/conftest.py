"""The tiny YAML benchmark protocol the runner and page tests share."""

import copy

import pytest

_TINY = {
    "name": "tiny",
    "sources": {
        "synthetic": {"kind": "synthetic", "seed": 0, "n_per_site": 4, "size": 48, "n_raters": 2,
                      "n_ood": 2},
    },
    "train": {"source": "synthetic", "split": "train", "domains": ["site1", "site2"]},
    "test": {"source": "synthetic", "splits": ["test"], "domains": ["site1", "site2"]},
    "shifted": {"site4": {"source": "synthetic", "domains": ["site4"], "max_cases": 2}},
    "far_ood": {"anatomy": {"source": "synthetic", "domains": ["ood_anatomy"]}},
    "corruptions": {"kinds": ["noise"], "strengths": [1, 3], "max_cases": 2},
    "methods": ["deterministic", "hue"],
    "seeds": 1,
    "samples": 3,
    "ambiguity_samples": 3,
    "maps": ["total"],
    "config": {
        "data": {"patch_size": [32, 32], "batch_size": 2},
        "net": {"widths": [8, 16, 32]},
        "train": {"epochs": 1, "steps_per_epoch": 1},
    },
}  # fmt: skip


@pytest.fixture(scope="session")
def tiny_protocol():
    """A factory of fresh copies of the tiny protocol (tests change their copy)."""
    return lambda: copy.deepcopy(_TINY)
