"""Whole-image sampling: sliding windows over images larger than the training patch, in 2D or 3D,
on any device."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from monai.inferers import sliding_window_inference

from seguq.devices import autocast

Sampler = Callable[[torch.Tensor, "int | None"], torch.Tensor]
CPU = torch.device("cpu")


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
    device: torch.device = CPU,
    precision: str = "32-true",
) -> torch.Tensor:
    """S samples of class probabilities for whole images of any size.

    Images that fit in one patch are sampled directly; larger ones through MONAI's sliding window,
    the S samples travelling as extra channels so that every window is sampled once per call.

    Args:
        sampler: `method.sample` of a trained method in eval mode on `device`, or any callable
            (x (b, C, *patch), n) -> (S, b, K, *patch) probabilities (e.g. `method.sample_level`).
        image: (B, C, *spatial) normalised images (2 or 3 spatial axes, as `patch_size`).
        n: samples S (None = the method's default).
        patch_size: the training patch.
        overlap: window overlap fraction.
        window_batch: windows per forward call.
        normalise: renormalise the stitched values over K (off for maps that are not
            probabilities).
        shared_noise: every window draws the same random numbers (one seed per call), so that
            sample s is the same draw of an image-level latent in every window (Probabilistic
            U-Net). Windows are then sampled one at a time.
        device: where the sampler runs; windows travel there, results come back to the CPU.
        precision: "32-true", "bf16-mixed" or "16-mixed" (autocast around the sampler).

    Returns:
        (S, B, K, *spatial) float32 probabilities on the CPU.
    """
    spatial = tuple(image.shape[2:])

    def run(x: torch.Tensor) -> torch.Tensor:
        with autocast(device, precision):
            return sampler(x.to(device), n).float()

    if all(s <= p for s, p in zip(spatial, patch_size, strict=True)):
        return run(image).to(CPU)
    shape: dict[str, int] = {}
    seed = int(torch.randint(0, 2**31 - 1, ())) if shared_noise else None

    def draw(windows: torch.Tensor) -> torch.Tensor:
        if seed is None:
            return run(windows)
        outputs = []
        for window in windows.split(1):
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                torch.manual_seed(seed)
                outputs.append(run(window))
        return torch.cat(outputs, dim=1)

    def predictor(windows: torch.Tensor) -> torch.Tensor:
        probs = draw(windows)  # (S, b, K, *patch)
        shape["S"], shape["K"] = probs.shape[0], probs.shape[2]
        return probs.movedim(0, 1).flatten(1, 2)  # (b, S*K, *patch)

    stitched = sliding_window_inference(
        image.to(CPU),
        roi_size=list(patch_size),
        sw_batch_size=window_batch,
        predictor=predictor,
        overlap=overlap,
        mode="gaussian",
        sw_device=device,
        device=CPU,
    )
    b = image.shape[0]
    probs = stitched.reshape(b, shape["S"], shape["K"], *spatial).movedim(1, 0).float()
    return probs / probs.sum(2, keepdim=True).clamp_min(1e-12) if normalise else probs
