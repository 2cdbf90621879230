"""The data presets of `compare_methods.py`: sources (relative to the data root) and, per preset,
the training selection, the in-distribution test set, shifted sets and OOD sets."""

from __future__ import annotations

# Sources, relative to --data-root; "manifest" is resized as it is, "middle_slices" cuts volumes.
SOURCES: dict[str, dict] = {
    "cxr_jsrt": {"kind": "manifest", "path": "cxr_jsrt/manifest.csv"},
    "vessels": {"kind": "manifest", "path": "vessels/manifest.csv"},
    "us_hc18": {"kind": "manifest", "path": "us_hc18/manifest.csv"},
    "hippocampus": {"kind": "middle_slices", "path": "hippocampus_msd/imagesTr", "volumes": 40},
    # seguq's own generator (`--size` ignored): 3 raters, sites 1-4, ood_anatomy, ood_corrupt.
    "synthetic": {
        "kind": "synthetic",
        "path": "",
        "seed": 0,
        "n_per_site": 20,
        "size": 128,
        "n_raters": 3,
        "n_ood": 20,
    },
}
FAR_OOD = {"us_hc18": {"source": "us_hc18"}, "hippocampus": {"source": "hippocampus"}}

# A preset: training selection, the in-distribution test set, labelled shifted sets (evaluated and
# compared with the test set: "shifted-site AUROC"), far-OOD sets (scores only), corrupted sets
# already in the data (scores only) and the default `--corruptions` made from the test images.
SITES_123 = ["site1", "site2", "site3"]
PRESETS: dict[str, dict] = {
    "cxr": {
        "class_names": ["background", "lung"],
        "train": {"source": "cxr_jsrt", "split": "fold1"},
        "test": {"source": "cxr_jsrt", "splits": ["fold2"]},
        "shifted": {},
        "far_ood": FAR_OOD,
        "corrupt": {},
        "corruptions": ["blur", "noise", "patch"],
    },
    "vessels": {
        "class_names": ["background", "vessel"],
        "train": {"source": "vessels", "split": "train", "domains": ["DRIVE"]},
        "test": {"source": "vessels", "splits": ["test"], "domains": ["DRIVE"]},
        "shifted": {"CHASEDB1": {"source": "vessels", "domains": ["CHASEDB1"]}},
        "far_ood": FAR_OOD,
        "corrupt": {},
        "corruptions": [],
    },
    "synthetic": {
        "class_names": ["background", "disc_rim", "cup"],
        "resized": False,
        "train": {
            "source": "synthetic",
            "split": "train",
            "domains": SITES_123,
            "val_domains": SITES_123,
        },
        "test": {"source": "synthetic", "splits": ["test"], "domains": SITES_123},
        "shifted": {"site4": {"source": "synthetic", "domains": ["site4"]}},
        "far_ood": {"ood_anatomy": {"source": "synthetic", "domains": ["ood_anatomy"]}},
        "corrupt": {"ood_corrupt": {"source": "synthetic", "domains": ["ood_corrupt"]}},
        "corruptions": [],
    },
}
