"""Prediction: for each case the mask, class probabilities, uncertainty maps and an OOD flag, in the
input's format and geometry, plus `scores.csv` and `prediction.json` describing the run."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from seguq.config import RunConfig
from seguq.config_checks import MAX_SEED
from seguq.data.case import select_cases
from seguq.data.io import file_format, read_image
from seguq.data.sources import load_source
from seguq.data.writers import MAP_DTYPES
from seguq.devices import set_threads
from seguq.engine.after_training import case_components
from seguq.engine.case_feature_map import FEATURE_MAP, feature_map, feature_maps_of
from seguq.engine.case_sampling import Inference, sample_input
from seguq.engine.case_writer import CaseWriter
from seguq.engine.checkpoint import load_method, resolve_model
from seguq.engine.ood_reference import OODReference, flag_possible, load_reference
from seguq.engine.output_folder import OutputFolder, source_inputs
from seguq.engine.predict_state import (
    case_seed,
    claim_prediction_folder,
    file_digest,
    forget_progress,
    record_finished,
    write_json,
    write_scores,
)
from seguq.errors import SeguqError
from seguq.feature_maps import FeatureMapReference
from seguq.features import FeatureReference
from seguq.interop.nnunet_files import write_folder_files
from seguq.progress import progress as progress_bar
from seguq.uncertainty import UNCERTAINTY_MAPS

log = logging.getLogger(__name__)

# "nnunet": also nnU-Net's <id>.npz + <id>.pkl and the folder's dataset.json and plans.json.
OUTPUT_FORMATS = ("seguq", "nnunet")


@dataclass
class PredictResult:
    """Where `predict` wrote its outputs."""

    out_dir: Path
    scores_csv: Path
    cases: int


def seeded_subset(cases: list, count: int, seed: int) -> list:
    """`count` of the cases, chosen by `seed`, in their order (all when there are fewer)."""
    if len(cases) <= count:
        return list(cases)
    chosen = np.random.default_rng(seed).choice(len(cases), count, replace=False)
    return [cases[i] for i in sorted(chosen)]


def parse_maps(text: str | Sequence[str], feature: bool = True) -> list[str]:
    """ "total,epistemic" -> ["total", "epistemic"], checking each name: the uncertainty maps
    and, with `feature`, the per-pixel feature distance (`seguq.feature_maps`).

    Raises:
        SeguqError: an unknown map name.
    """
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    known = [*UNCERTAINTY_MAPS, *([FEATURE_MAP] if feature else [])]
    for name in names:
        if name not in known:
            raise SeguqError(f"--maps: unknown map '{name}' (known: {', '.join(known)})")
    return list(dict.fromkeys(names))


def predict(
    model: Path,
    input_spec: str | Path,
    out: Path,
    *,
    samples: int | None = None,
    maps: Sequence[str] = ("total",),
    save_probs: bool = True,
    save_samples: int = 0,
    float_format: str = "npy",
    map_dtype: str = "float16",
    output_format: str = "seguq",
    ood_alpha: float | None = None,
    calibration_data: str | Path | None = None,
    splits: Sequence[str] | None = None,
    domains: Sequence[str] | None = None,
    max_cases: int | None = None,
    per_level: bool = False,
    seed: int = 0,
    threads: int | None = None,
    device: str = "auto",
    precision: str = "auto",
    overwrite: bool = False,
    resume: bool = False,
    reuse: bool = False,
    progress: bool = True,
) -> PredictResult:
    """Predict every case of an input (a file, a folder, a manifest or a known layout).

    Writes per case `<id>_mask` (class indices), `<id>_probs` (K channels), `<id>_<map>` for each
    uncertainty map, optionally `<id>_samples` (argmax of the first `save_samples` samples) and,
    with `per_level`, `<id>_<level>_<map>` from sampling one hierarchy level at a time, all in
    the input's format and geometry; then `scores.csv` (id, domain, image score, its conformal
    p-value against the run's in-distribution reference scores, the OOD flag `p < ood_alpha`,
    the predicted Dice, S) and `prediction.json`. `calibration_data` (a source of
    in-distribution cases) replaces the run's reference (its validation cases). With
    `output_format="nnunet"` the mean probabilities are also written as nnU-Net's `<id>.npz` +
    `<id>.pkl`, with the `dataset.json` and `plans.json` its ensembling tools read.
    `max_cases` predicts a subset of that many cases, chosen by `seed`, in the input's order.

    The same model, input, settings and `seed` give identical outputs (bit for bit on the same
    machine and thread count; other thread counts reorder float sums, ~1e-7). An interrupted
    prediction continues where it stopped when the same call is made again (or with `resume`);
    a finished one is replaced only with `overwrite`. With `reuse` (benchmarks), a folder that
    holds this very prediction is kept as it is, or continued when unfinished, even with
    `overwrite`, which then replaces only a prediction with other settings.

    Raises:
        SeguqError: bad model, input or option; an existing output folder holding other results
            without `overwrite`; `resume` without an interrupted prediction with these settings.
    """
    if output_format not in OUTPUT_FORMATS:
        raise SeguqError(
            f"--format: expected one of {', '.join(OUTPUT_FORMATS)}, got '{output_format}'"
        )
    if float_format not in ("npy", "tiff"):
        raise SeguqError(f"--float-format: expected 'npy' or 'tiff', got '{float_format}'")
    if map_dtype not in MAP_DTYPES:
        raise SeguqError(f"--map-dtype: expected one of {', '.join(MAP_DTYPES)}, got '{map_dtype}'")
    if max_cases is not None and max_cases < 1:
        raise SeguqError(f"--ood-limit: expected a positive number, got {max_cases}")
    if samples is not None and samples < 1:
        raise SeguqError(f"--samples: expected a positive number, got {samples}")
    if save_samples < 0:
        raise SeguqError(f"--save-samples: expected a number >= 0, got {save_samples}")
    if not 0 <= seed <= MAX_SEED:
        raise SeguqError(f"--seed: expected an integer in 0..{MAX_SEED}, got {seed}")
    if threads is not None and threads < 1:
        raise SeguqError(f"--threads: expected a positive number, got {threads}")
    set_threads(threads)
    map_names = parse_maps(maps)
    checkpoint = resolve_model(Path(model))
    feature_maps = feature_maps_of(checkpoint, map_names)
    method = load_method(checkpoint)
    config = method.config
    inference = Inference.for_run(config, device, precision)
    method.to(inference.device)
    if per_level and not method.level_names:
        raise SeguqError(f"--per-level: method '{config.method.name}' has no hierarchical levels")
    alpha = config.predict.ood_alpha if ood_alpha is None else ood_alpha
    if not 0 < alpha < 1:
        raise SeguqError(f"--ood-alpha: expected a value in (0, 1), got {alpha}")
    reference = ood_reference_for(checkpoint, method, inference, calibration_data)
    flagging = flag_possible(reference, alpha, checkpoint)
    source = load_source(input_spec)
    cases = list(source.cases)
    if splits or domains:
        cases = select_cases(
            cases,
            splits=list(splits or []) or None,
            domains=list(domains or []) or None,
            source=source.name,
        )
    if max_cases is not None:
        cases = seeded_subset(cases, max_cases, seed)
    settings = {
        "model": str(checkpoint.resolve()),
        "model_sha256": file_digest(checkpoint),
        "input": str(input_spec),
        "cases": [case.id for case in cases],
        "samples": samples,
        "maps": map_names,
        "probabilities": save_probs,
        "save_samples": save_samples,
        "float_format": float_format,
        "map_dtype": map_dtype,
        "format": output_format,
        "ood_alpha": alpha,
        "calibration_data": str(calibration_data) if calibration_data else None,
        "per_level": per_level,
        "seed": seed,
        "device": inference.device.type,
        "precision": inference.precision,
    }
    folder = OutputFolder(
        Path(out),
        "prediction",
        protected=[
            *source_inputs(source, "the input"),
            ("the model", checkpoint),
            *([("the calibration data", Path(calibration_data))] if calibration_data else []),
        ],
    )
    marker = folder.marker or {}
    if reuse and marker.get("settings") == settings and marker.get("complete"):
        return PredictResult(folder.path, folder.path / "scores.csv", len(cases))
    done = claim_prediction_folder(folder, settings, overwrite=overwrite, resume=resume or reuse)
    nnunet = output_format == "nnunet"
    sampled_maps = [name for name in map_names if name != FEATURE_MAP]
    writer = CaseWriter(
        folder.path, sampled_maps, save_probs, save_samples, float_format, nnunet, map_dtype
    )
    features = FeatureReference.load(checkpoint.parent.parent)
    job = _Job(
        samples,
        config,
        inference,
        writer,
        reference,
        features,
        feature_maps,
        alpha,
        flagging,
        per_level,
    )
    todo = [case for case in cases if case.id not in done]
    if done and progress:
        log.warning("%s: resuming, %d of %d cases already done", folder.path, len(done), len(cases))
    try:
        for case in progress_bar(todo, "predict", "case", progress):
            torch.manual_seed(case_seed(seed, case.id))
            row = _predict_case(method, case, job)
            record_finished(folder.path, row)
            done[case.id] = row
    except BaseException:
        folder.abandon(keep_partial=bool(done))
        raise
    rows = [done[case.id] for case in cases]
    if nnunet and cases:
        names = config.data.class_names or [f"class{k}" for k in range(config.data.num_classes)]
        write_folder_files(folder.path, list(names), *file_format(cases[0].image))
    scores_csv = write_scores(folder.path / "scores.csv", rows)
    write_json(
        folder.path / "prediction.json",
        {
            "model": settings["model"],
            "method": config.method.name,
            "input": str(input_spec),
            "samples": int(rows[0]["samples"]) if rows else 0,
            "maps": map_names,
            "levels": method.level_names if per_level else [],
            "auxiliary_maps": method.auxiliary_map_names,
            "probabilities": save_probs,
            "float_format": float_format,
            "map_dtype": map_dtype,
            "format": output_format,
            "seed": seed,
            "device": str(inference.device),
            "precision": inference.precision,
            "ood": {
                "score": config.predict.ood_score,
                "map": config.predict.ood_map,
                "alpha": alpha,
                "flag": flagging,
                "reference_cases": reference.size if reference else 0,
                "reference": reference.source if reference else None,
            },
            "class_names": config.data.class_names,
            "label_map": {str(k): v for k, v in (config.data.label_map or {}).items()},
            "cases": len(rows),
        },
    )
    forget_progress(folder.path)
    folder.complete()
    return PredictResult(folder.path, scores_csv, len(rows))


def ood_reference_for(
    checkpoint: Path, method, inference: Inference, calibration_data: str | Path | None
) -> OODReference | None:
    """The in-distribution reference: the run's, or the scores of `calibration_data` cases."""
    if calibration_data is None:
        reference = load_reference(checkpoint)
        if reference is None:
            log.warning(
                "%s: the run has no ood_reference.json, so scores.csv has no p-value and no OOD "
                "flag (give --calibration-data SRC)",
                checkpoint,
            )
        return reference
    from seguq.engine.after_training import reference_of

    cases = list(load_source(calibration_data).cases)
    features = FeatureReference.load(checkpoint.parent.parent)
    origin = f"{len(cases)} cases of {calibration_data}"
    return reference_of(method, cases, inference, features, origin)


@dataclass(frozen=True)
class _Job:
    """What every case of one prediction shares."""

    samples: int | None
    config: RunConfig
    inference: Inference
    writer: CaseWriter
    reference: OODReference | None  # None: no p-values
    features: FeatureReference | None  # None: no feature distances
    feature_maps: FeatureMapReference | None  # None: no `feature` map
    alpha: float
    flag: bool  # p < alpha can be reached with the reference's size
    per_level: bool


def _predict_case(method, case, job: _Job) -> dict[str, object]:
    """Write one case's outputs; returns its scores.csv row."""
    raw, geometry = read_image(case.images)

    def sample(sampler, n, **options) -> torch.Tensor:
        return sample_input(sampler, raw, geometry, n, job.inference, path=case.image, **options)

    probs = sample(method.sample, job.samples, shared_noise=method.image_level_latent)
    _, quality = job.writer.write(case.id, probs, geometry, job.config.predict)
    components = case_components(
        method, raw, geometry, probs, job.inference, job.features, str(case.image)
    )
    if method.auxiliary_map_names:
        aux = sample(_auxiliary_sampler(method), 1, normalise=False)[0]
        for name, values in zip(method.auxiliary_map_names, aux, strict=True):
            job.writer.write_map(f"{case.id}_{name}", values, geometry)
    if job.feature_maps is not None:
        values = feature_map(method, job.feature_maps, raw, geometry, job.inference, case.image)
        job.writer.write_map(f"{case.id}_{FEATURE_MAP}", values, geometry)
    if job.per_level:
        for level in method.level_names:
            level_probs = sample(partial(method.sample_level, level=level), job.samples)
            job.writer.write_maps(f"{case.id}_{level}", level_probs, geometry)
    return score_row(
        case.id,
        case.domain,
        probs.shape[0],
        components,
        quality,
        job.reference,
        job.alpha,
        job.flag,
    )


def _auxiliary_sampler(method):
    """The method's own maps (B, M, H, W) in the sampler shape (1, B, M, H, W)."""
    return lambda x, n=None: method.auxiliary_maps(x).unsqueeze(0)


def score_row(
    case_id: str,
    domain: str,
    samples: int,
    components: dict[str, float],
    quality: float,
    reference: OODReference | None,
    alpha: float,
    flag: bool,
) -> dict[str, object]:
    """The scores.csv row: the combined OOD score first, then its components, the p-value
    against `reference`, the flag (p < alpha, given only when `flag`), the predicted Dice."""
    score = components["uncertainty"] if reference is None else reference.combine(components)
    row: dict[str, object] = {"id": case_id, "domain": domain, "score": score, **components}
    if reference is None:
        row.update(p_value="", ood="")
    else:
        p = reference.p_value(score)
        row.update(p_value=round(p, 6), ood=str(p < alpha).lower() if flag else "")
    row.update(predicted_dice=round(quality, 6), samples=samples)
    return row
