"""`seguq ood-regions`: do the uncertainty maps find foreign content inside an image?

Foreign content (patches of another modality, synthetic striped objects; `seguq.benchmark.
insertions`) is inserted into in-distribution images; the model predicts the altered images, and
every uncertainty map (and, for hierarchical methods, every level's map), and the per-pixel
feature distance when the run has its statistics (`feature`), is scored as a pixel
detector of the inserted region: pixel AUROC, AUPR and FPR at 95% TPR (the region's pixels are
the positives, every other pixel a negative), pooled over the cases from a seeded subsample of at
most 20,000 pixels per case.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from seguq.benchmark.insertions import KINDS, write_insertion_set
from seguq.data.case import select_cases
from seguq.data.io import atomic_write, read_mask
from seguq.data.maps import MAP_ENDINGS, find_output, read_map
from seguq.data.sources import load_source
from seguq.engine.case_feature_map import FEATURE_MAP
from seguq.engine.checkpoint import resolve_model
from seguq.engine.evaluate import json_safe, read_prediction_info
from seguq.engine.output_folder import resumable_output, source_inputs
from seguq.engine.predict import predict, seeded_subset
from seguq.errors import SeguqError
from seguq.feature_maps import FILE as FEATURE_MAP_FILE
from seguq.metrics.error_detection import ErrorDetectionAccumulator

MAPS = ("total", "aleatoric", "epistemic")
RESULT = "regions.json"


def region_detection(pred_dir: Path, manifest: Path) -> dict:
    """Pixel detection of each case's inserted region by every map of a prediction folder.

    Returns:
        {"cases", "maps": {map: {auroc, aupr, fpr95, ...}}, "by_kind": {kind: {map: ...}}};
        per-level maps are named "<level> <map>".

    Raises:
        SeguqError: a missing prediction or region file.
    """
    info = read_prediction_info(pred_dir)
    names = list(info.get("maps") or [])
    keys = [(name, name, "") for name in names]
    sampled = [n for n in names if n != FEATURE_MAP]  # the maps written per level
    keys += [(f"{lv} {n}", n, f"_{lv}") for lv in info.get("levels") or [] for n in sampled]
    with Path(manifest).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    pooled = {key: ErrorDetectionAccumulator(seed=0) for key, _, _ in keys}
    by_kind: dict[str, dict[str, ErrorDetectionAccumulator]] = {}
    for row in rows:
        region, _ = read_mask(Path(manifest).parent / row["region"])
        inside = torch.from_numpy(region > 0)[None]
        kind = by_kind.setdefault(
            row["kind"], {k: ErrorDetectionAccumulator(seed=0) for k, *_ in keys}
        )
        for key, name, level in keys:
            path = find_output(pred_dir, f"{row['id']}{level}", name, MAP_ENDINGS)
            if path is None:
                raise SeguqError(f"{pred_dir}: no {name} map for case '{row['id']}{level}'")
            values = torch.from_numpy(read_map(path, 2))[None]
            pooled[key].update(values, inside)
            kind[key].update(values, inside)
    return {
        "cases": len(rows),
        "maps": {key: acc.compute() for key, acc in pooled.items()},
        "by_kind": {
            k: {key: acc.compute() for key, acc in accs.items()} for k, accs in by_kind.items()
        },
    }


def ood_regions(
    model: Path,
    data: str | Path,
    donors: str | Path,
    out: Path,
    *,
    splits: Sequence[str] | None = None,
    domains: Sequence[str] | None = None,
    kinds: Sequence[str] = KINDS,
    fraction: float = 1 / 16,
    limit: int | None = 20,
    per_level: bool = False,
    seed: int = 0,
    threads: int | None = None,
    device: str = "auto",
    precision: str = "auto",
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Insert foreign content into cases of `data`, predict them with `model`, score the maps.

    Args:
        model: a run folder or checkpoint.
        data: the in-distribution source whose images receive the content (2D images).
        donors: a source of another modality, cut into the patches.
        out: the folder written: `insertions/` (images, regions, manifest), `prediction/`, and
            `regions.json` (the scores, also returned).
        splits, domains: which cases of `data` (default all).
        kinds: "patch" and/or "object".
        fraction: the share of each image the content covers.
        limit: at most this many host cases (a seeded subset; None: all).
        per_level: also score each level's maps (HUE, PHiSeg).
        seed: the subset, positions and textures.
        overwrite: replace an earlier result in `out`.

    Raises:
        SeguqError: bad sources or options, or an existing result without `overwrite`.
    """
    out = Path(out)
    result_path = out / RESULT
    if result_path.exists() and not overwrite:
        raise SeguqError(f"--out {out}: holds an OOD-regions result (use --overwrite)")
    if limit is not None and limit < 1:
        raise SeguqError(f"--limit: expected a positive number, got {limit}")
    source = load_source(data)
    chosen = {
        "splits": list(splits) if splits else None,
        "domains": list(domains) if domains else None,
    }
    cases = select_cases(source.cases, **chosen, source=source.name)
    if limit is not None:
        cases = seeded_subset(cases, limit, seed)
    donor_source = load_source(donors) if "patch" in kinds else None
    protected = [("the model", Path(model)), *source_inputs(source)]
    if donor_source is not None:
        protected += source_inputs(donor_source, "the donor images")
    # out is claimed as seguq's: an earlier, unfinished result resumes; --overwrite replaces
    # only a folder seguq wrote, never one holding the model, the data or the donors
    with resumable_output(
        out, "ood-regions", overwrite=overwrite, protected=protected, legacy_file=RESULT
    ):
        manifest = write_insertion_set(
            [(case.id, case.image) for case in cases],
            [case.image for case in (donor_source.cases if donor_source else [])],
            out / "insertions",
            kinds=kinds,
            fraction=fraction,
            seed=seed,
        )
        prediction = predict(
            model,
            manifest,
            out / "prediction",
            maps=[*MAPS, *([FEATURE_MAP] if _has_feature_maps(model) else [])],
            save_probs=False,
            per_level=per_level,
            seed=seed,
            threads=threads,
            device=device,
            precision=precision,
            overwrite=True,  # out/prediction is ours: kept when it holds this prediction
            reuse=True,
            progress=progress,
        )
        result = {
            "model": str(model),
            "method": read_prediction_info(prediction.out_dir).get("method"),
            "data": str(data),
            "donors": str(donors),
            "kinds": list(kinds),
            "fraction": fraction,
            "seed": seed,
            **region_detection(prediction.out_dir, manifest),
        }
        atomic_write(
            result_path, lambda tmp: tmp.write_text(json.dumps(json_safe(result), indent=2))
        )
    return result


def _has_feature_maps(model: Path) -> bool:
    return (resolve_model(Path(model)).parent.parent / FEATURE_MAP_FILE).is_file()


def summary_lines(result: dict) -> list[str]:
    """One line per map: pixel AUROC / FPR95 over all kinds and per kind."""
    lines = []
    for key, scores in result["maps"].items():
        parts = [f"AUROC {_num(scores['auroc'])}, FPR95 {_num(scores['fpr95'])}"]
        for kind, per_map in result["by_kind"].items():
            parts.append(f"{kind} {_num(per_map[key]['auroc'])}")
        lines.append(f"{key}: " + "; ".join(parts))
    return lines


def _num(value) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.3f}"
