"""One case's encoder features per level, for the feature-space OOD scores: pooled (averaged
over space: is the image foreign?) and, while fitting the per-pixel map, a sample of positions
(`seguq.feature_maps`: where is it foreign?), and the per-pixel distance map itself. The whole
preprocessed image goes through the method's encoder, not the sliding windows of the samples
(whose borders would change the features); a 2D model on a volume sees it slice by slice."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from seguq.data.arrays import from_slices, to_slices
from seguq.devices import autocast
from seguq.engine.case_sampling import SLICE_BATCH, Inference
from seguq.feature_maps import FeatureMapReference, level_strides, sample_positions
from seguq.methods import Method


def _batches(image: np.ndarray, inference: Inference) -> Iterator[np.ndarray]:
    """(b, C, *spatial) batches: the image itself, or a volume's slices for a 2D model."""
    if image.ndim - 1 == inference.spatial_dims:
        yield image[None]
        return
    planes = to_slices(image, inference.slice_axis)
    for start in range(0, len(planes), SLICE_BATCH):
        yield np.stack(planes[start : start + SLICE_BATCH])


@torch.no_grad()
def _encode(method: Method, batch: np.ndarray, inference: Inference) -> list[torch.Tensor]:
    x = torch.from_numpy(np.ascontiguousarray(batch)).to(inference.device)
    with autocast(inference.device, inference.precision):
        return [f.float() for f in method.encoder_features(x)]


def pooled_features(method: Method, image: np.ndarray, inference: Inference) -> list[np.ndarray]:
    """Per level, the (C_l,) pooled features of one preprocessed image (C, *grid)."""
    return case_features(method, image, inference)[0]


def case_features(
    method: Method,
    image: np.ndarray,
    inference: Inference,
    positions: int = 0,
    rng: np.random.Generator | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per level, the pooled (C_l,) features of one preprocessed image and, with `positions`,
    the (n_l, C_l) features of about that many of its positions (seeded by `rng`; a volume's
    slice batches each give their share)."""
    total = 1 if image.ndim - 1 == inference.spatial_dims else image.shape[1 + inference.slice_axis]
    rng = rng or np.random.default_rng(0)
    sums: list[np.ndarray] | None = None
    rows: list[list[np.ndarray]] = []
    for batch in _batches(image, inference):
        features = _encode(method, batch, inference)
        means = [f.mean(dim=tuple(range(2, f.ndim))).cpu().numpy() for f in features]
        totals = [level.sum(axis=0) for level in means]
        sums = totals if sums is None else [a + b for a, b in zip(sums, totals, strict=True)]
        if positions:
            share = max(1, round(positions * len(batch) / total))
            spatial = batch.shape[2:]
            strides = level_strides([f.shape[2:] for f in features], spatial)
            drawn = [
                sample_positions(f, spatial, stride, share, rng)
                for f, stride in zip(features, strides, strict=True)
            ]
            rows = rows or [[] for _ in drawn]
            for level, d in zip(rows, drawn, strict=True):
                level.append(d)
    assert sums is not None
    pooled = [level / total for level in sums]
    return pooled, [np.concatenate(level) for level in rows]


def distance_map(
    method: Method, image: np.ndarray, reference: FeatureMapReference, inference: Inference
) -> torch.Tensor:
    """The per-pixel feature distance of one preprocessed image (C, *grid): (*grid), CPU."""
    pieces = []
    for batch in _batches(image, inference):
        features = _encode(method, batch, inference)
        pieces.append(reference.distance_map(features, batch.shape[2:]).cpu())
    if image.ndim - 1 == inference.spatial_dims:
        return pieces[0][0]
    planes = list(torch.cat(pieces).numpy()[:, None])  # each (1, h, w)
    return torch.from_numpy(from_slices(planes, inference.slice_axis))[0]
