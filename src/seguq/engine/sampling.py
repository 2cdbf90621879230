"""Whole-image sampling: sliding windows over images larger than the training patch."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from monai.inferers import sliding_window_inference

Sampler = Callable[[torch.Tensor, "int | None"], torch.Tensor]


@torch.no_grad()
def sample_image(
    sampler: Sampler,
    image: torch.Tensor,
    n: int | None,
    patch_size: Sequence[int],
    *,
    overlap: float = 0.25,
    window_batch: int = 4,
    normalise: bool = True,
    shared_noise: bool = False,
) -> torch.Tensor:
    """S samples of class probabilities for whole images of any size.

    Images that fit in one patch are sampled directly; larger ones through MONAI's sliding window,
    the S samples travelling as extra channels so that every window is sampled once per call.

    Args:
        sampler: `method.sample` of a trained method in eval mode, or any callable
            (x (b, C, h, w), n) -> (S, b, K, h, w) probabilities (e.g. `method.sample_level`).
        image: (B, C, H, W) normalised images.
        n: samples S (None = the method's default).
        patch_size: the training patch (h, w).
        overlap: window overlap fraction.
        window_batch: windows per forward call.
        normalise: renormalise the stitched values over K (off for maps that are not
            probabilities).
        shared_noise: every window draws the same random numbers (one seed per call), so that
            sample s is the same draw of an image-level latent in every window (Probabilistic
            U-Net). Windows are then sampled one at a time.

    Returns:
        (S, B, K, H, W) probabilities.
    """
    h, w = image.shape[-2:]
    if h <= patch_size[0] and w <= patch_size[1]:
        return sampler(image, n)
    shape: dict[str, int] = {}

    seed = int(torch.randint(0, 2**31 - 1, ())) if shared_noise else None

    def draw(windows: torch.Tensor) -> torch.Tensor:
        if seed is None:
            return sampler(windows, n)
        outputs = []
        for window in windows.split(1):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                outputs.append(sampler(window, n))
        return torch.cat(outputs, dim=1)

    def predictor(windows: torch.Tensor) -> torch.Tensor:
        probs = draw(windows)  # (S, b, K, h, w)
        shape["S"], shape["K"] = probs.shape[0], probs.shape[2]
        return probs.movedim(0, 1).flatten(1, 2)  # (b, S*K, h, w)

    stitched = sliding_window_inference(
        image,
        roi_size=list(patch_size),
        sw_batch_size=window_batch,
        predictor=predictor,
        overlap=overlap,
        mode="gaussian",
    )
    b = image.shape[0]
    probs = stitched.reshape(b, shape["S"], shape["K"], h, w).movedim(1, 0)
    return probs / probs.sum(2, keepdim=True).clamp_min(1e-12) if normalise else probs
