"""The per-pixel feature-distance map of one case (`--maps feature`): the run's stored
statistics (`seguq.feature_maps`) and the map on the input's grid."""

from __future__ import annotations

from pathlib import Path

import torch

from seguq.engine.case_features import distance_map
from seguq.engine.case_sampling import Inference
from seguq.errors import SeguqError
from seguq.feature_maps import FILE as FEATURE_MAP_FILE
from seguq.feature_maps import FeatureMapReference

# The per-pixel feature-distance map's name in --maps and in the output files.
FEATURE_MAP = "feature"


def feature_maps_of(checkpoint: Path, map_names: list[str]) -> FeatureMapReference | None:
    """The run's per-pixel feature statistics when `feature` is asked for.

    Raises:
        SeguqError: `feature` asked of a run without them.
    """
    if FEATURE_MAP not in map_names:
        return None
    run_dir = checkpoint.parent.parent
    reference = FeatureMapReference.load(run_dir)
    if reference is None:
        raise SeguqError(
            f"--maps feature: {run_dir} has no {FEATURE_MAP_FILE} (trained before seguq fitted "
            "it; add it with seguq.refit_feature_maps(RUN))"
        )
    return reference


def feature_map(
    method, reference: FeatureMapReference, raw, geometry, inference: Inference, path: str = ""
) -> torch.Tensor:
    """The per-pixel feature distance of one raw image on the input's grid (*spatial):
    preprocessed as the run was trained, the whole image through the encoder (as the
    statistics were fitted), restored to the input's grid."""
    image = inference.preprocessing.image(raw, geometry, path)
    values = distance_map(method, image, reference, inference)[None, None]
    return inference.preprocessing.restore(values, geometry, normalise=False)[0, 0]
