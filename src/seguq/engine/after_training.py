"""What a run stores after training: an optional temperature, and the in-distribution validation
scores that the OOD flag compares new images with."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from seguq.data.case import Case
from seguq.data.io import read_image
from seguq.data.items import read_case
from seguq.data.roi import region_of_interest
from seguq.data.sources import Source
from seguq.devices import accelerator_device
from seguq.engine.case_features import case_features, pooled_features
from seguq.engine.case_sampling import Inference, sample_case, sample_input
from seguq.engine.case_writer import case_score
from seguq.engine.checkpoint import load_method, read_checkpoint, save_checkpoint
from seguq.engine.ood_reference import OODReference
from seguq.engine.output_folder import register_outputs
from seguq.engine.predict_state import case_seed
from seguq.errors import SeguqError
from seguq.feature_maps import FILE as FEATURE_MAP_FILE
from seguq.feature_maps import FeatureMapReference
from seguq.features import FeatureReference
from seguq.methods import Method
from seguq.metrics.calibration import fit_temperature
from seguq.progress import progress as progress_bar

# Training cases whose features the feature references are fitted on at most (a seeded sample).
FEATURE_CASES = 200
# Positions per level, over all those cases, that the per-pixel feature map is fitted on.
FEATURE_POSITIONS = 50_000

log = logging.getLogger(__name__)


def finish_run(
    run_dir: Path,
    source: Source,
    val_cases: list[Case],
    calibration: list[Case] | None = None,
    calibration_name: str = "",
    train_cases: list[Case] | None = None,
    progress: bool = False,
) -> None:
    """What a run stores after training: the temperature (when `method.calibrate`), the
    training cases' feature statistics (`feature_reference.npz`), and the OOD reference: the
    OOD components of the validation cases, or of `calibration` cases when given; the
    per-pixel feature statistics too (`feature_map_reference.npz`, the `feature` map).

    Every case is seen exactly as prediction will see it: preprocessed as the run was trained,
    through the same windows, and (for the uncertainty score) restored to the input's grid.
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
    features = None
    if train_cases:
        sample = _sample_of(train_cases, config.train.seed)
        features, positions = fit_features(method, sample, inference, config.train.seed, progress)
        features.save(run_dir)
        try:
            FeatureMapReference.fit(positions).save(run_dir)
        except SeguqError as error:  # the trained run stands; it lacks only the `feature` map
            log.warning("%s: no %s (%s)", run_dir, FEATURE_MAP_FILE, error)
    cases = calibration or val_cases
    origin = f"{len(cases)} cases of {calibration_name}" if calibration else "validation cases"
    reference_of(method, cases, inference, features, origin, progress).save(run_dir)


def _sample_of(cases: list[Case], seed: int) -> list[Case]:
    if len(cases) <= FEATURE_CASES:
        return list(cases)
    chosen = np.random.default_rng(seed).choice(len(cases), FEATURE_CASES, replace=False)
    return [cases[i] for i in sorted(chosen)]


def fit_features(
    method: Method, cases: list[Case], inference: Inference, seed: int, progress: bool = False
) -> tuple[FeatureReference, list[np.ndarray]]:
    """Per-level statistics of the cases' pooled encoder features, and per level the (N, C)
    features at `FEATURE_POSITIONS` positions drawn (seeded) evenly from the cases (what
    `FeatureMapReference.fit` takes)."""
    pooled, rows = [], []
    rng = np.random.default_rng(seed)
    per_case = -(-FEATURE_POSITIONS // max(len(cases), 1))
    for case in progress_bar(cases, "feature statistics", "case", progress):
        raw, geometry = read_image(case.images)
        image = inference.preprocessing.image(raw, geometry, case.image)
        case_pooled, case_rows = case_features(method, image, inference, per_case, rng)
        pooled.append(case_pooled)
        rows.append(case_rows)
    levels = [np.concatenate(level) for level in zip(*rows, strict=True)]
    return FeatureReference.fit(pooled), levels


def refit_feature_maps(run_dir: Path, progress: bool = False) -> Path:
    """Fit and save the per-pixel feature statistics of a run trained without them (before
    seguq had the `feature` map): the same seeded sample of its training cases as training
    uses. Adds `feature_map_reference.npz`; nothing else in the run changes.

    Raises:
        SeguqError: no run there, its data gone, or the run already has the statistics.
    """
    from seguq.data.sources import load_source
    from seguq.engine.splits import split_cases

    run_dir = Path(run_dir)
    if (run_dir / FEATURE_MAP_FILE).exists():
        raise SeguqError(f"{run_dir}: already has {FEATURE_MAP_FILE}")
    method = load_method(run_dir / "checkpoints" / "best.pt")
    config = method.config
    device = accelerator_device(config.train.accelerator)
    inference = Inference.for_run(config, device, config.train.precision)
    method.to(device)
    source = load_source(
        config.data.source, label_map=config.data.label_map, class_names=config.data.class_names
    )
    train_cases, _ = split_cases(source, config)
    sample = _sample_of(train_cases, config.train.seed)
    _, positions = fit_features(method, sample, inference, config.train.seed, progress)
    saved = FeatureMapReference.fit(positions).save(run_dir)
    register_outputs(run_dir, [saved.name])
    return saved


def case_components(
    method: Method,
    raw: np.ndarray,
    geometry,
    probs: torch.Tensor,
    inference: Inference,
    features: FeatureReference | None,
    path: str = "",
) -> dict[str, float]:
    """One case's OOD components: its uncertainty score (from its samples `probs`) and, with
    feature statistics, the distance of its pooled encoder features at each level."""
    values = {"uncertainty": case_score(probs, method.config.predict)}
    if features is not None:
        image = inference.preprocessing.image(raw, geometry, path)
        distances = features.distances(pooled_features(method, image, inference))
        values |= {f"feature_level{i}": d for i, d in enumerate(distances)}
    return values


def reference_of(
    method: Method,
    cases: list[Case],
    inference: Inference,
    features: FeatureReference | None,
    origin: str,
    progress: bool = False,
) -> OODReference:
    """The OOD reference of in-distribution cases, scored exactly as `seguq predict` scores a
    case (seeded per case with seed 0)."""
    rows = []
    for case in progress_bar(cases, "OOD reference", "case", progress):
        torch.manual_seed(case_seed(0, case.id))
        raw, geometry = read_image(case.images)
        probs = sample_input(method.sample, raw, geometry, None, inference, path=case.image)
        rows.append(case_components(method, raw, geometry, probs, inference, features, case.image))
    components = {name: [row[name] for row in rows] for name in rows[0]} if rows else {}
    settings = method.config.predict
    if not rows:
        return OODReference([], settings.ood_score, settings.ood_map, origin)
    return OODReference.from_components(components, settings.ood_score, settings.ood_map, origin)


@torch.no_grad()
def _fit(
    method: Method, source: Source, cases: list[Case], inference: Inference, seed: int
) -> float:
    """Temperature minimising the NLL of the method's logits on the validation pixels (logits
    stitched over the same windows as prediction, on the network's grid), inside each case's
    region of interest when it has one (the pixels its metrics count)."""

    def logit_sampler(x: torch.Tensor, n: int | None = None) -> torch.Tensor:
        return method.logits(x).float().unsqueeze(0)

    logits, labels = [], []
    for case in cases:
        image, masks, geometry = read_case(case, source, inference.preprocessing)
        out = sample_case(logit_sampler, image, 1, inference, normalise=False)[0]  # (K, *grid)
        case_logits = out.reshape(out.shape[0], -1).T
        case_labels = torch.from_numpy(np.ascontiguousarray(masks[0])).reshape(-1)
        roi = region_of_interest(case, source.root, geometry.shape)
        if roi is not None:
            inside = inference.preprocessing.masks(roi[None].astype(np.int64), geometry)[0] > 0
            keep = torch.from_numpy(np.ascontiguousarray(inside)).reshape(-1)
            case_logits, case_labels = case_logits[keep], case_labels[keep]
        logits.append(case_logits)
        labels.append(case_labels)
    return fit_temperature(torch.cat(logits), torch.cat(labels), max_samples=500_000, seed=seed)
