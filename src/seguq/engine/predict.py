"""Prediction: for each case the mask, class probabilities, uncertainty maps and an OOD flag, in the
input's format and geometry, plus `scores.csv` and `prediction.json` describing the run."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from seguq.data.arrays import from_slices, match_channels, normalize_intensity, to_slices
from seguq.data.case import select_cases
from seguq.data.io import atomic_write, read_image, write_map, write_mask
from seguq.data.sources import load_source
from seguq.engine.checkpoint import load_method, resolve_model
from seguq.engine.ood_reference import OODReference, load_reference
from seguq.engine.run_folder import prepare_output
from seguq.engine.sampling import sample_image
from seguq.errors import SeguqError
from seguq.methods import Method
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


def sample_case(
    method: Method,
    image: np.ndarray,
    n: int | None,
    *,
    slice_axis: int,
    patch_size: Sequence[int],
    overlap: float = 0.25,
) -> torch.Tensor:
    """S probability samples for one image or volume.

    Args:
        method: a trained method in eval mode.
        image: (C, H, W) or (C, X, Y, Z) normalised image with the model's channel count.
        n: samples S (None = the method's default).
        slice_axis: for volumes, the spatial axis (0..2) along which 2D slices are taken.
        patch_size: the training patch.
        overlap: sliding-window overlap.

    Returns:
        (S, K, *spatial) probabilities on the CPU.
    """
    if image.ndim == 3:
        return sample_image(method, torch.from_numpy(image)[None], n, patch_size, overlap=overlap)[
            :, 0
        ]
    slices = []
    for plane in to_slices(image, slice_axis):
        probs = sample_image(
            method,
            torch.from_numpy(np.ascontiguousarray(plane))[None],
            n,
            patch_size,
            overlap=overlap,
        )[:, 0]  # (S, K, h, w)
        slices.append(probs.flatten(0, 1).numpy())
    s = probs.shape[0]
    stacked = from_slices(slices, slice_axis)  # (S*K, X, Y, Z)
    return torch.from_numpy(stacked).reshape(s, -1, *stacked.shape[1:])


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
    overwrite: bool = False,
    progress: bool = True,
) -> PredictResult:
    """Predict every case of an input (a file, a folder, a manifest or a known layout).

    Writes per case `<id>_mask` (class indices), `<id>_probs` (K channels), `<id>_<map>` for each
    uncertainty map, optionally `<id>_samples` (argmax of the first `save_samples` samples), all in
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
    rows = []
    score_map = config.predict.ood_map
    for case in tqdm(cases, desc="predict", unit="case", disable=not progress):
        raw, geometry = read_image(case.images)
        image = match_channels(normalize_intensity(raw), config.data.in_channels, case.image)
        probs = sample_case(
            method,
            image,
            samples,
            slice_axis=config.data.slice_axis,
            patch_size=config.data.patch_size,
            overlap=config.predict.overlap,
        )
        batch = probs[:, None]  # (S, 1, K, *spatial)
        mean = mean_probs(batch)[0]
        labels = mean.argmax(0)
        stem = out / case.id
        write_mask(Path(f"{stem}_mask"), labels.numpy().astype(np.uint8), geometry)
        if save_probs:
            write_map(
                Path(f"{stem}_probs"), mean.numpy().astype(np.float32), geometry, float_format
            )
        names = list(dict.fromkeys([*map_names, score_map]))
        umaps = compute_maps(batch, names)
        for name in map_names:
            write_map(
                Path(f"{stem}_{name}"),
                umaps[name][0].numpy().astype(np.float32),
                geometry,
                float_format,
            )
        if save_samples:
            drawn = probs[:save_samples].argmax(1).numpy().astype(np.float32)
            write_map(Path(f"{stem}_samples"), drawn, geometry, float_format)
        score = float(
            image_score(umaps[score_map], method=config.predict.ood_score, prediction=labels[None])[
                0
            ]
        )
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
            "probabilities": save_probs,
            "float_format": float_format,
            "ood": {
                "score": config.predict.ood_score,
                "map": score_map,
                "percentile": percentile,
                "threshold": reference.threshold(percentile) if reference else None,
            },
            "class_names": config.data.class_names,
            "label_map": {str(k): v for k, v in (config.data.label_map or {}).items()},
            "cases": len(rows),
        },
    )
    return PredictResult(out, scores_csv, len(rows))


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
