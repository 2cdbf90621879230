"""Sampling one case: a 2D image directly, a volume slice by slice, restacked on its grid."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from seguq.data.arrays import from_slices, to_slices
from seguq.engine.sampling import Sampler, sample_image


def sample_case(
    sampler: Sampler,
    image: np.ndarray,
    n: int | None,
    *,
    slice_axis: int,
    patch_size: Sequence[int],
    overlap: float = 0.25,
    normalise: bool = True,
    shared_noise: bool = False,
) -> torch.Tensor:
    """S probability samples for one image or volume.

    Args:
        sampler: `method.sample` (or another sampler, see `sample_image`).
        image: (C, H, W) or (C, X, Y, Z) normalised image with the model's channel count.
        n: samples S (None = the method's default).
        slice_axis: for volumes, the spatial axis (0..2) along which 2D slices are taken.
        patch_size: the training patch.
        overlap: sliding-window overlap.
        normalise: as in `sample_image` (off for auxiliary maps).
        shared_noise: as in `sample_image` (methods with an image-level latent).

    Returns:
        (S, K, *spatial) probabilities on the CPU.
    """
    if image.ndim == 3:
        return sample_image(
            sampler,
            torch.from_numpy(image)[None],
            n,
            patch_size,
            overlap=overlap,
            normalise=normalise,
            shared_noise=shared_noise,
        )[:, 0]
    slices = []
    for plane in to_slices(image, slice_axis):
        probs = sample_image(
            sampler,
            torch.from_numpy(np.ascontiguousarray(plane))[None],
            n,
            patch_size,
            overlap=overlap,
            normalise=normalise,
            shared_noise=shared_noise,
        )[:, 0]  # (S, K, h, w)
        slices.append(probs.flatten(0, 1).numpy())
    s = probs.shape[0]
    stacked = from_slices(slices, slice_axis)  # (S*K, X, Y, Z)
    return torch.from_numpy(stacked).reshape(s, -1, *stacked.shape[1:])
