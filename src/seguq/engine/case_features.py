"""One case's pooled encoder features per level (for the feature-space OOD score): the whole
preprocessed image through the method's encoder, averaged over space; a 2D model on a volume
averages over its slices."""

from __future__ import annotations

import numpy as np
import torch

from seguq.data.arrays import to_slices
from seguq.devices import autocast
from seguq.engine.case_sampling import SLICE_BATCH, Inference
from seguq.methods import Method


@torch.no_grad()
def _pooled(method: Method, batch: np.ndarray, inference: Inference) -> list[np.ndarray]:
    """Per level, (b, C_l) spatial means of the encoder features of a (b, C, *spatial) batch."""
    x = torch.from_numpy(np.ascontiguousarray(batch)).to(inference.device)
    with autocast(inference.device, inference.precision):
        features = method.encoder_features(x)
    return [f.float().mean(dim=tuple(range(2, f.ndim))).cpu().numpy() for f in features]


def pooled_features(method: Method, image: np.ndarray, inference: Inference) -> list[np.ndarray]:
    """Per level, the (C_l,) pooled features of one preprocessed image (C, *grid)."""
    if image.ndim - 1 == inference.spatial_dims:
        return [level[0] for level in _pooled(method, image[None], inference)]
    planes = to_slices(image, inference.slice_axis)
    sums: list[np.ndarray] | None = None
    for start in range(0, len(planes), SLICE_BATCH):
        levels = _pooled(method, np.stack(planes[start : start + SLICE_BATCH]), inference)
        totals = [level.sum(axis=0) for level in levels]
        sums = totals if sums is None else [a + b for a, b in zip(sums, totals, strict=True)]
    assert sums is not None
    return [total / len(planes) for total in sums]
