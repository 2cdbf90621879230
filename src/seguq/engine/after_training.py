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
from seguq.engine.case_writer import case_score
from seguq.engine.checkpoint import load_method, read_checkpoint, save_checkpoint
from seguq.engine.ood_reference import OODReference
from seguq.engine.predict_state import case_seed
from seguq.methods import Method
from seguq.metrics.calibration import fit_temperature


def finish_run(
    run_dir: Path,
    source: Source,
    val_cases: list[Case],
    calibration: list[Case] | None = None,
    calibration_name: str = "",
) -> None:
    """Fit the temperature (when `method.calibrate`) and store the OOD reference of `run_dir`:
    the image scores of the validation cases, or of `calibration` cases when given.

    Both see the cases exactly as prediction will: preprocessed as the run was trained, through
    the same windows, and (for the OOD scores) restored to the input's grid.
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
    scores = reference_scores(method, calibration or val_cases, inference)
    source_name = (
        f"{len(scores)} cases of {calibration_name}" if calibration else "validation cases"
    )
    OODReference(scores, config.predict.ood_score, config.predict.ood_map, source_name).save(
        run_dir
    )


def reference_scores(method: Method, cases: list[Case], inference: Inference) -> list[float]:
    """Image scores of in-distribution cases, exactly as `seguq predict` scores a case (seeded
    per case with seed 0)."""
    scores = []
    for case in cases:
        torch.manual_seed(case_seed(0, case.id))
        raw, geometry = read_image(case.images)
        probs = sample_input(method.sample, raw, geometry, None, inference, path=case.image)
        scores.append(case_score(probs, method.config.predict))
    return scores


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
