"""Prediction: for each case the mask, class probabilities, uncertainty maps and an OOD flag, in the
input's format and geometry, plus `scores.csv` and `prediction.json` describing the run."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from seguq.config import PredictConfig, RunConfig
from seguq.data.arrays import match_channels, normalize_intensity
from seguq.data.case import select_cases
from seguq.data.io import Geometry, atomic_write, read_image, write_map, write_mask
from seguq.data.sources import load_source
from seguq.engine.case_sampling import sample_case
from seguq.engine.checkpoint import load_method, resolve_model
from seguq.engine.ood_reference import OODReference, load_reference
from seguq.engine.run_folder import prepare_output
from seguq.errors import SeguqError
from seguq.uncertainty import UNCERTAINTY_MAPS, compute_maps, image_score, mean_probs

log = logging.getLogger(__name__)


@dataclass
class PredictResult:
    """Where `predict` wrote its outputs."""

    out_dir: Path
    scores_csv: Path
    cases: int


def parse_maps(text: str | Sequence[str]) -> list[str]:
    """ "total,epistemic" -> ["total", "epistemic"], checking each name.

    Raises:
        SeguqError: an unknown map name.
    """
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    for name in names:
        if name not in UNCERTAINTY_MAPS:
            raise SeguqError(f"--maps: unknown map '{name}' (known: {', '.join(UNCERTAINTY_MAPS)})")
    return names


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
    ood_percentile: float | None = None,
    splits: Sequence[str] | None = None,
    domains: Sequence[str] | None = None,
    per_level: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> PredictResult:
    """Predict every case of an input (a file, a folder, a manifest or a known layout).

    Writes per case `<id>_mask` (class indices), `<id>_probs` (K channels), `<id>_<map>` for each
    uncertainty map, optionally `<id>_samples` (argmax of the first `save_samples` samples) and,
    with `per_level`, `<id>_<level>_<map>` from sampling one hierarchy level at a time, all in
    the input's format and geometry; then `scores.csv` (id, domain, image score, its percentile
    among the in-distribution validation scores, the OOD flag) and `prediction.json`.

    Raises:
        SeguqError: bad model, input or option; an existing output folder without `overwrite`.
    """
    if float_format not in ("npy", "tiff"):
        raise SeguqError(f"--float-format: expected 'npy' or 'tiff', got '{float_format}'")
    if samples is not None and samples < 1:
        raise SeguqError(f"--samples: expected a positive number, got {samples}")
    map_names = parse_maps(maps)
    checkpoint = resolve_model(Path(model))
    method = load_method(checkpoint)
    config = method.config
    reference = load_reference(checkpoint)
    percentile = config.predict.ood_percentile if ood_percentile is None else ood_percentile
    if not 0 < percentile < 100:
        raise SeguqError(f"--ood-percentile: expected a value in (0, 100), got {percentile}")
    source = load_source(input_spec)
    cases = list(source.cases)
    if splits or domains:
        cases = select_cases(
            cases,
            splits=list(splits or []) or None,
            domains=list(domains or []) or None,
            source=source.name,
        )
    out = prepare_output(Path(out), overwrite=overwrite)
    if per_level and not method.level_names:
        raise SeguqError(f"--per-level: method '{config.method.name}' has no hierarchical levels")
    writer = _CaseWriter(out, map_names, save_probs, save_samples, float_format)
    rows = []
    for case in tqdm(cases, desc="predict", unit="case", disable=not progress):
        raw, geometry = read_image(case.images)
        image = match_channels(normalize_intensity(raw), config.data.in_channels, case.image)
        probs = _sample(
            method.sample, image, samples, config, shared_noise=method.image_level_latent
        )
        score = writer.write(case.id, probs, geometry, config.predict)
        if method.auxiliary_map_names:
            aux = _sample(_auxiliary_sampler(method), image, 1, config, normalise=False)[0]
            for name, values in zip(method.auxiliary_map_names, aux, strict=True):
                writer.write_map(f"{case.id}_{name}", values, geometry)
        if per_level:
            for level in method.level_names:
                sampler = partial(method.sample_level, level=level)
                level_probs = _sample(sampler, image, samples, config)
                writer.write_maps(f"{case.id}_{level}", level_probs, geometry)
        rows.append(_score_row(case.id, case.domain, score, reference, percentile, probs.shape[0]))
    scores_csv = _write_scores(out / "scores.csv", rows)
    _write_json(
        out / "prediction.json",
        {
            "model": str(checkpoint.resolve()),
            "method": config.method.name,
            "input": str(input_spec),
            "samples": int(rows[0]["samples"]) if rows else 0,
            "maps": map_names,
            "levels": method.level_names if per_level else [],
            "auxiliary_maps": method.auxiliary_map_names,
            "probabilities": save_probs,
            "float_format": float_format,
            "ood": {
                "score": config.predict.ood_score,
                "map": config.predict.ood_map,
                "percentile": percentile,
                "threshold": reference.threshold(percentile) if reference else None,
            },
            "class_names": config.data.class_names,
            "label_map": {str(k): v for k, v in (config.data.label_map or {}).items()},
            "cases": len(rows),
        },
    )
    return PredictResult(out, scores_csv, len(rows))


def _sample(
    sampler,
    image: np.ndarray,
    samples: int | None,
    config: RunConfig,
    normalise: bool = True,
    shared_noise: bool = False,
) -> torch.Tensor:
    return sample_case(
        sampler,
        image,
        samples,
        slice_axis=config.data.slice_axis,
        patch_size=config.data.patch_size,
        overlap=config.predict.overlap,
        normalise=normalise,
        shared_noise=shared_noise,
    )


def _auxiliary_sampler(method):
    """The method's own maps (B, M, H, W) in the sampler shape (1, B, M, H, W)."""
    return lambda x, n=None: method.auxiliary_maps(x).unsqueeze(0)


class _CaseWriter:
    """Writes one case's outputs on the input's grid and returns its image score."""

    def __init__(
        self, out: Path, maps: list[str], save_probs: bool, save_samples: int, float_format: str
    ):
        self.out, self.maps, self.float_format = out, maps, float_format
        self.save_probs, self.save_samples = save_probs, save_samples

    def write_map(self, name: str, values: torch.Tensor, geometry: Geometry) -> None:
        write_map(self.out / name, values.numpy().astype(np.float32), geometry, self.float_format)

    def write_maps(self, stem: str, probs: torch.Tensor, geometry: Geometry) -> None:
        """The uncertainty maps of (S, K, *spatial) samples as `<stem>_<map>`."""
        for name, values in compute_maps(probs[:, None], self.maps).items():
            self.write_map(f"{stem}_{name}", values[0], geometry)

    def write(
        self, case_id: str, probs: torch.Tensor, geometry: Geometry, settings: PredictConfig
    ) -> float:
        """Mask, probabilities, maps and samples of (S, K, *spatial) samples; the image score."""
        batch = probs[:, None]  # (S, 1, K, *spatial)
        mean = mean_probs(batch)[0]
        labels = mean.argmax(0)
        write_mask(self.out / f"{case_id}_mask", labels.numpy().astype(np.uint8), geometry)
        if self.save_probs:
            self.write_map(f"{case_id}_probs", mean, geometry)
        umaps = compute_maps(batch, list(dict.fromkeys([*self.maps, settings.ood_map])))
        for name in self.maps:
            self.write_map(f"{case_id}_{name}", umaps[name][0], geometry)
        if self.save_samples:
            self.write_map(
                f"{case_id}_samples", probs[: self.save_samples].argmax(1).float(), geometry
            )
        score = image_score(
            umaps[settings.ood_map], method=settings.ood_score, prediction=labels[None]
        )
        return float(score[0])


def _score_row(
    case_id: str,
    domain: str,
    score: float,
    reference: OODReference | None,
    percentile: float,
    samples: int,
) -> dict[str, object]:
    row: dict[str, object] = {"id": case_id, "domain": domain, "score": score, "samples": samples}
    if reference is None:
        row.update(percentile="", ood="")
    else:
        row.update(
            percentile=round(reference.percentile_of(score), 2),
            ood=str(score > reference.threshold(percentile)).lower(),
        )
    return row


def _write_scores(path: Path, rows: list[dict[str, object]]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=["id", "domain", "score", "percentile", "ood", "samples"]
    )
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write(path, lambda tmp: tmp.write_text(buffer.getvalue()))


def _write_json(path: Path, payload: dict) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(payload, indent=2)))
