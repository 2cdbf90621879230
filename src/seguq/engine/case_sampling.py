"""Sampling one case: a 2D image directly, a volume slice by slice through a 2D model or whole
through a 3D one, on the device and in the precision the command chose."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from seguq.data.arrays import from_slices, to_slices
from seguq.data.io import Geometry
from seguq.data.preprocess import Preprocessing
from seguq.devices import resolve_device, resolve_precision
from seguq.engine.sampling import Sampler, sample_image
from seguq.errors import SeguqError

# 2D slices of one volume sampled per call (they share a shape).
SLICE_BATCH = 16


@dataclass(frozen=True)
class Inference:
    """How a trained method is applied to whole images.

    Attributes:
        patch_size: the training patch (its length is the model's spatial dimensions).
        overlap: sliding-window overlap.
        slice_axis: for a 2D model on volumes, the spatial axis (0..2) slices are cut along.
        device: where the model runs (its outputs come back to the CPU).
        precision: a resolved Lightning precision ("32-true", "bf16-mixed", "16-mixed").
        preprocessing: how raw images become network input and outputs return to their grid.
    """

    patch_size: Sequence[int]
    overlap: float = 0.25
    slice_axis: int = 2
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    precision: str = "32-true"
    preprocessing: Preprocessing = field(default_factory=Preprocessing)

    @property
    def spatial_dims(self) -> int:
        """2 or 3: the model's spatial dimensions."""
        return len(self.patch_size)

    @classmethod
    def for_run(
        cls, config, device: str | torch.device | None = "cpu", precision: str | None = "32"
    ) -> Inference:
        """The inference settings of a run's config on a device ("auto", "cpu", "cuda:N")."""
        chosen = device if isinstance(device, torch.device) else resolve_device(device)
        return cls(
            patch_size=tuple(config.data.patch_size),
            overlap=config.predict.overlap,
            slice_axis=config.data.slice_axis,
            device=chosen,
            precision=resolve_precision(precision, chosen),
            preprocessing=Preprocessing.of(config.data),
        )


def sample_case(
    sampler: Sampler,
    image: np.ndarray,
    n: int | None,
    inference: Inference,
    *,
    normalise: bool = True,
    shared_noise: bool = False,
) -> torch.Tensor:
    """S probability samples for one image or volume.

    Args:
        sampler: `method.sample` (or another sampler, see `sample_image`), on `inference.device`.
        image: (C, H, W) or (C, X, Y, Z) normalised image with the model's channel count.
        n: samples S (None = the method's default).
        inference: patch, overlap, slicing, device and precision.
        normalise: as in `sample_image` (off for auxiliary maps).
        shared_noise: as in `sample_image` (methods with an image-level latent).

    Returns:
        (S, K, *spatial) float32 probabilities on the CPU.

    Raises:
        SeguqError: a 2D image for a 3D model.
    """
    options = {
        "overlap": inference.overlap,
        "normalise": normalise,
        "shared_noise": shared_noise,
        "device": inference.device,
        "precision": inference.precision,
    }
    patch = list(inference.patch_size)
    if image.ndim - 1 == inference.spatial_dims:
        return sample_image(sampler, torch.from_numpy(image)[None], n, patch, **options)[:, 0]
    if inference.spatial_dims == 3:
        raise SeguqError(f"a 3D model needs volumes, got an image of shape {image.shape}")
    planes = to_slices(image, inference.slice_axis)
    pieces = []
    for start in range(0, len(planes), SLICE_BATCH):
        batch = torch.from_numpy(np.stack(planes[start : start + SLICE_BATCH]))
        pieces.append(sample_image(sampler, batch, n, patch, **options))  # (S, b, K, h, w)
    probs = torch.cat(pieces, dim=1)  # (S, slices, K, h, w)
    s = probs.shape[0]
    slices = list(probs.movedim(1, 0).flatten(1, 2).numpy())  # each (S*K, h, w)
    stacked = from_slices(slices, inference.slice_axis)  # (S*K, X, Y, Z)
    return torch.from_numpy(stacked).reshape(s, -1, *stacked.shape[1:])


def sample_input(
    sampler: Sampler,
    raw: np.ndarray,
    geometry: Geometry,
    n: int | None,
    inference: Inference,
    *,
    path: str = "",
    normalise: bool = True,
    shared_noise: bool = False,
) -> torch.Tensor:
    """`sample_case` on a raw image: preprocessed (channels, spacing, intensities) as the run
    was trained, sampled, and restored to the input's grid.

    Args:
        raw: (C, *spatial) intensities as read.
        geometry: the input's geometry.
        path: the image file, for messages.

    Returns:
        (S, K, *geometry.shape) float32 on the CPU.
    """
    image = inference.preprocessing.image(raw, geometry, path)
    probs = sample_case(
        sampler, image, n, inference, normalise=normalise, shared_noise=shared_noise
    )
    return inference.preprocessing.restore(probs, geometry, normalise=normalise)
