"""What a run stores after training: an optional temperature, and the in-distribution validation
scores that the OOD flag compares new images with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from seguq.data.case import Case
from seguq.data.io import read_image
from seguq.data.items import read_case
from seguq.data.sources import Source
from seguq.devices import accelerator_device
from seguq.engine.case_sampling import Inference, sample_case, sample_input
from seguq.engine.checkpoint import load_method, read_checkpoint, save_checkpoint
from seguq.engine.ood_reference import OODReference
from seguq.methods import Method
from seguq.metrics.calibration import fit_temperature
from seguq.uncertainty import compute_maps, image_score, mean_probs


def finish_run(run_dir: Path, source: Source, val_cases: list[Case]) -> None:
    """Fit the temperature (when `method.calibrate`) and store the OOD reference of `run_dir`.

    Both see the validation cases exactly as prediction will: preprocessed as the run was
    trained, through the same windows, and (for the OOD scores) restored to the input's grid.
    """
    best = run_dir / "checkpoints" / "best.pt"
    method = load_method(best)
    config = method.config
    device = accelerator_device(config.train.accelerator)
    inference = Inference.for_run(config, device, config.train.precision)
    method.to(device)
    if config.method.calibrate:
        method.temperature.fill_(_fit(method, source, val_cases, inference, config.train.seed))
        info = read_checkpoint(best)["info"]
        save_checkpoint(method, best, **info, temperature=float(method.temperature))
    scores = []
    for case in val_cases:
        raw, geometry = read_image(case.images)
        probs = sample_input(method.sample, raw, geometry, None, inference, path=case.image)
        batch = probs[:, None]
        umap = compute_maps(batch, [config.predict.ood_map])[config.predict.ood_map]
        labels = mean_probs(batch).argmax(1)
        scores.append(
            float(image_score(umap, method=config.predict.ood_score, prediction=labels)[0])
        )
    OODReference(scores, config.predict.ood_score, config.predict.ood_map).save(run_dir)


@torch.no_grad()
def _fit(
    method: Method, source: Source, cases: list[Case], inference: Inference, seed: int
) -> float:
    """Temperature minimising the NLL of the method's logits on the validation pixels (logits
    stitched over the same windows as prediction, on the network's grid)."""

    def logit_sampler(x: torch.Tensor, n: int | None = None) -> torch.Tensor:
        return method.logits(x).float().unsqueeze(0)

    logits, labels = [], []
    for case in cases:
        image, masks, _ = read_case(case, source, inference.preprocessing)
        out = sample_case(logit_sampler, image, 1, inference, normalise=False)[0]  # (K, *grid)
        logits.append(out.reshape(out.shape[0], -1).T)
        labels.append(torch.from_numpy(np.ascontiguousarray(masks[0])).reshape(-1))
    return fit_temperature(torch.cat(logits), torch.cat(labels), max_samples=500_000, seed=seed)
