"""Uncertainty maps and image-level uncertainty scores, computed from a predictive distribution.

Every method represents its predictive distribution as ``P``: S samples of class probabilities,
shape ``(S, B, K, *spatial)`` (S = 1 for a deterministic model). The functions here are pure
functions of ``P`` (torch in, torch out) and never know which method produced it. They work for
any number of spatial dimensions, are numerically safe for probabilities of exactly 0, and
compute in at least float32 (half-precision inputs are upcast). Entropies are in nats.

Decomposition (METHODS.md §4)::

    total      = H(mean_s P_s)                 predictive entropy
    aleatoric  = mean_s H(P_s)                 expected entropy
    epistemic  = total - aleatoric             mutual information, clamped at 0
    variance   = Var_s(1 - P_s[background])    population variance of the foreground probability
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from seguq.errors import SeguqError

__all__ = [
    "IMAGE_SCORE_METHODS",
    "UNCERTAINTY_MAPS",
    "compute_maps",
    "expected_entropy",
    "foreground_variance",
    "image_score",
    "mean_probs",
    "mutual_information",
    "predicted_labels",
    "predictive_entropy",
]

IMAGE_SCORE_METHODS = ("mean", "foreground", "top")


def _as_float(probs: torch.Tensor) -> torch.Tensor:
    # Entropies of half-precision probabilities lose most of their digits; float64 stays as is.
    if probs.dtype not in (torch.float32, torch.float64):
        return probs.float()
    return probs


def _check_samples(probs: torch.Tensor) -> None:
    if probs.ndim < 3:
        raise SeguqError(
            "expected class-probability samples of shape (S, B, K, *spatial), got "
            f"{tuple(probs.shape)}"
        )


def _entropy(probs: torch.Tensor, class_dim: int) -> torch.Tensor:
    # xlogy gives 0 * log 0 = 0; the clamp absorbs tiny negative values from numerical noise.
    probs = probs.clamp_min(0.0)
    return -torch.special.xlogy(probs, probs).sum(class_dim)


def mean_probs(probs: torch.Tensor) -> torch.Tensor:
    """Mean predictive distribution over the samples.

    Args:
        probs: class-probability samples, (S, B, K, *spatial).

    Returns:
        Mean class probabilities, (B, K, *spatial).

    Raises:
        SeguqError: if ``probs`` has fewer than 3 dimensions.
    """
    _check_samples(probs)
    return _as_float(probs).mean(0)


def predicted_labels(probs: torch.Tensor) -> torch.Tensor:
    """Hard prediction: argmax over classes of the mean distribution.

    Args:
        probs: class-probability samples, (S, B, K, *spatial).

    Returns:
        int64 class indices, (B, *spatial).

    Raises:
        SeguqError: if ``probs`` has fewer than 3 dimensions.
    """
    return mean_probs(probs).argmax(1)


def predictive_entropy(probs: torch.Tensor) -> torch.Tensor:
    """Total uncertainty: entropy of the mean distribution, H(mean_s P_s), in nats.

    Args:
        probs: class-probability samples, (S, B, K, *spatial).

    Returns:
        Total uncertainty in [0, log K], (B, *spatial).

    Raises:
        SeguqError: if ``probs`` has fewer than 3 dimensions.
    """
    return _entropy(mean_probs(probs), class_dim=1)


def expected_entropy(probs: torch.Tensor) -> torch.Tensor:
    """Aleatoric uncertainty: mean over samples of each sample's entropy, mean_s H(P_s), in nats.

    Args:
        probs: class-probability samples, (S, B, K, *spatial).

    Returns:
        Aleatoric uncertainty in [0, log K], (B, *spatial).

    Raises:
        SeguqError: if ``probs`` has fewer than 3 dimensions.
    """
    _check_samples(probs)
    return _entropy(_as_float(probs), class_dim=2).mean(0)


def mutual_information(probs: torch.Tensor) -> torch.Tensor:
    """Epistemic uncertainty: mutual information = total - aleatoric, in nats.

    Clamped at 0 because rounding can make the difference slightly negative; it is exactly 0
    when all samples agree (in particular when S = 1).

    Args:
        probs: class-probability samples, (S, B, K, *spatial).

    Returns:
        Epistemic uncertainty in [0, log K], (B, *spatial).

    Raises:
        SeguqError: if ``probs`` has fewer than 3 dimensions.
    """
    return (predictive_entropy(probs) - expected_entropy(probs)).clamp_min(0.0)


def foreground_variance(probs: torch.Tensor) -> torch.Tensor:
    """Population variance over samples of the foreground probability ``1 - P[:, :, 0]``.

    Args:
        probs: class-probability samples, (S, B, K, *spatial); class 0 is background.

    Returns:
        Variance in [0, 0.25], (B, *spatial); zero when S == 1.

    Raises:
        SeguqError: if ``probs`` has fewer than 3 dimensions.
    """
    _check_samples(probs)
    foreground = 1.0 - _as_float(probs)[:, :, 0]
    return foreground.var(0, correction=0)


UNCERTAINTY_MAPS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "total": predictive_entropy,
    "aleatoric": expected_entropy,
    "epistemic": mutual_information,
    "variance": foreground_variance,
}


def compute_maps(probs: torch.Tensor, names: Sequence[str]) -> dict[str, torch.Tensor]:
    """Several uncertainty maps at once, sharing the entropy computations.

    Args:
        probs: class-probability samples, (S, B, K, *spatial).
        names: keys of ``UNCERTAINTY_MAPS`` ("total", "aleatoric", "epistemic", "variance").

    Returns:
        One map per requested name, in the order given, each (B, *spatial).

    Raises:
        SeguqError: if a name is unknown (the message lists the known ones), or ``probs`` has
            fewer than 3 dimensions.
    """
    unknown = [name for name in names if name not in UNCERTAINTY_MAPS]
    if unknown:
        raise SeguqError(
            f"unknown uncertainty map(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(sorted(UNCERTAINTY_MAPS))}"
        )
    cache: dict[str, torch.Tensor] = {}

    def get(name: str) -> torch.Tensor:
        if name not in cache:
            if name == "epistemic":
                cache[name] = (get("total") - get("aleatoric")).clamp_min(0.0)
            else:
                cache[name] = UNCERTAINTY_MAPS[name](probs)
        return cache[name]

    return {name: get(name) for name in names}


def _dilate(mask: torch.Tensor, margin: int) -> torch.Tensor:
    """Dilate a boolean mask (B, *spatial) by ``margin`` pixels with a square/cube element.

    Separable 1-D max pooling along each spatial axis, so any number of spatial dims works.
    """
    if margin == 0 or mask.ndim < 2:
        return mask
    out = mask.float()
    for axis in range(1, mask.ndim):
        moved = out.movedim(axis, -1)
        shape = moved.shape
        pooled = F.max_pool1d(
            moved.reshape(-1, 1, shape[-1]), kernel_size=2 * margin + 1, stride=1, padding=margin
        )
        out = pooled.reshape(shape).movedim(-1, axis)
    return out > 0


def image_score(
    umap: torch.Tensor,
    *,
    method: str = "mean",
    prediction: torch.Tensor | None = None,
    margin: int = 5,
    top_fraction: float = 0.05,
) -> torch.Tensor:
    """Aggregate an uncertainty map into one score per image (for OOD flags and triage).

    Methods:
        - ``"mean"``: mean over all pixels.
        - ``"foreground"``: mean over the predicted foreground (``prediction > 0``) dilated by
          ``margin`` pixels (square/cube structuring element, i.e. Chebyshev distance, in voxel
          units). **An image with no predicted foreground falls back to its whole-image mean.**
        - ``"top"``: mean of the ``top_fraction`` most uncertain pixels (at least one pixel).

    Args:
        umap: uncertainty map, (B, *spatial).
        method: one of ``IMAGE_SCORE_METHODS``.
        prediction: int class indices, (B, *spatial); required for ``"foreground"``.
        margin: dilation margin in pixels, >= 0 (``"foreground"`` only).
        top_fraction: fraction of pixels in (0, 1] (``"top"`` only).

    Returns:
        Scores, (B,), in the dtype of ``umap`` (at least float32).

    Raises:
        SeguqError: for an unknown method, a missing or mis-shaped ``prediction``, a negative
            margin or a ``top_fraction`` outside (0, 1].
    """
    if method not in IMAGE_SCORE_METHODS:
        raise SeguqError(
            f"unknown image score method {method!r}; known: {', '.join(IMAGE_SCORE_METHODS)}"
        )
    if umap.ndim < 1:
        raise SeguqError(
            f"expected an uncertainty map of shape (B, *spatial), got {tuple(umap.shape)}"
        )
    flat = _as_float(umap).reshape(umap.shape[0], -1)
    if method == "mean":
        return flat.mean(1)
    if method == "top":
        if not 0.0 < top_fraction <= 1.0:
            raise SeguqError(f"top_fraction must be in (0, 1], got {top_fraction}")
        count = max(1, math.ceil(top_fraction * flat.shape[1]))
        return flat.topk(count, dim=1).values.mean(1)
    if prediction is None:
        raise SeguqError("image score method 'foreground' needs the predicted labels (prediction)")
    if prediction.shape != umap.shape:
        raise SeguqError(
            f"prediction shape {tuple(prediction.shape)} does not match the uncertainty map "
            f"shape {tuple(umap.shape)}"
        )
    if margin < 0:
        raise SeguqError(f"margin must be >= 0 pixels, got {margin}")
    region = _dilate(prediction > 0, margin).reshape(flat.shape).to(flat.dtype)
    count = region.sum(1)
    region_mean = (flat * region).sum(1) / count.clamp_min(1.0)
    return torch.where(count > 0, region_mean, flat.mean(1))
