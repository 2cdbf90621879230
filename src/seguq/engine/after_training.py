"""What a run stores after training: an optional temperature, and the in-distribution validation
scores that the OOD flag compares new images with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from seguq.data.arrays import load_case, match_channels
from seguq.data.case import Case
from seguq.data.sources import Source
from seguq.devices import accelerator_device
from seguq.engine.case_sampling import Inference, sample_case
from seguq.engine.checkpoint import load_method, read_checkpoint, save_checkpoint
from seguq.engine.ood_reference import OODReference
from seguq.methods import Method
from seguq.metrics.calibration import fit_temperature
from seguq.uncertainty import compute_maps, image_score, mean_probs


def finish_run(run_dir: Path, source: Source, val_cases: list[Case]) -> None:
    """Fit the temperature (when `method.calibrate`) and store the OOD reference of `run_dir`."""
    best = run_dir / "checkpoints" / "best.pt"
    method = load_method(best)
    config = method.config
    images = [_image(case, source, method) for case in val_cases]
    device = accelerator_device(config.train.accelerator)
    inference = Inference.for_run(config, device, config.train.precision)
    method.to(device)
    if config.method.calibrate:
        method.temperature.fill_(_fit(method, images, inference, config.train.seed))
        info = read_checkpoint(best)["info"]
        save_checkpoint(method, best, **info, temperature=float(method.temperature))
    scores = []
    for image, _ in images:
        probs = sample_case(method.sample, image, None, inference)
        batch = probs[:, None]
        umap = compute_maps(batch, [config.predict.ood_map])[config.predict.ood_map]
        labels = mean_probs(batch).argmax(1)
        scores.append(
            float(image_score(umap, method=config.predict.ood_score, prediction=labels)[0])
        )
    OODReference(scores, config.predict.ood_score, config.predict.ood_map).save(run_dir)


def _image(case: Case, source: Source, method: Method) -> tuple[np.ndarray, np.ndarray]:
    arrays = load_case(case, source)
    return match_channels(arrays.image, method.in_channels, case.image), arrays.masks[0]


@torch.no_grad()
def _fit(
    method: Method,
    images: list[tuple[np.ndarray, np.ndarray]],
    inference: Inference,
    seed: int,
) -> float:
    """Temperature minimising the NLL of the method's logits on the validation pixels (logits
    stitched over the same windows as prediction)."""

    def logit_sampler(x: torch.Tensor, n: int | None = None) -> torch.Tensor:
        return method.logits(x).float().unsqueeze(0)

    logits, labels = [], []
    for image, mask in images:
        out = sample_case(logit_sampler, image, 1, inference, normalise=False)[0]  # (K, *spatial)
        logits.append(out.reshape(out.shape[0], -1).T)
        labels.append(torch.from_numpy(np.ascontiguousarray(mask)).reshape(-1))
    return fit_temperature(torch.cat(logits), torch.cat(labels), max_samples=500_000, seed=seed)
