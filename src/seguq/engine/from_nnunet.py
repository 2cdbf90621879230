"""Uncertainty from an nnU-Net ensemble: its folds' probabilities as S samples, written as a
seguq prediction folder (masks, probabilities, uncertainty maps, scores.csv, prediction.json),
so that `seguq evaluate` and `seguq report` work on it unchanged.

Each fold folder is what `nnUNetv2_predict ... --save_probabilities` wrote (`<case>.npz`,
`<case>.pkl`, and the `dataset.json` nnU-Net copies there, which names the classes). The OOD
reference is optional: folders of in-distribution cases in the same layout, such as the folds'
validation predictions that `nnUNetv2_train --npz` writes (`fold_<f>/validation/`). There, each
case was predicted by one fold only, so its uncertainty is one model's, not the ensemble's; the
image scores of every case are then the mean over folds of one-fold scores, which puts the
reference and the new cases on the same footing (an ensemble's entropy exceeds its members').
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seguq.config import PredictConfig
from seguq.data.case import Case
from seguq.data.io import read_image
from seguq.data.sources import load_source
from seguq.data.sources.base import is_visible
from seguq.data.sources.nnunet import read_labels
from seguq.engine.case_writer import CaseWriter, case_score
from seguq.engine.ood_reference import OODReference, flag_possible
from seguq.engine.output_folder import OutputFolder, source_inputs
from seguq.engine.predict import PredictResult, parse_maps, score_row
from seguq.engine.predict_state import (
    claim_prediction_folder,
    forget_progress,
    record_finished,
    write_json,
    write_scores,
)
from seguq.errors import SeguqError
from seguq.interop.nnunet_files import read_probabilities
from seguq.progress import progress as progress_bar
from seguq.quality import predicted_dice

log = logging.getLogger(__name__)

METHOD = "nnunet-ensemble"


@dataclass(frozen=True)
class _Members:
    """Which fold folders hold which cases (`<case>.npz`)."""

    folders: list[Path]
    cases: dict[str, list[Path]]  # case id -> the folders that hold it

    @classmethod
    def scan(cls, folders: Sequence[Path], option: str) -> _Members:
        folders = [Path(f) for f in folders]
        if not folders:
            raise SeguqError(f"{option}: give at least one nnU-Net prediction folder")
        cases: dict[str, list[Path]] = {}
        for folder in folders:
            if not folder.is_dir():
                raise SeguqError(f"{option} {folder}: does not exist or is not a folder")
            ids = [p.name[: -len(".npz")] for p in folder.glob("*.npz") if is_visible(p)]
            if not ids:
                raise SeguqError(
                    f"{option} {folder}: no <case>.npz files (nnUNetv2_predict writes them "
                    "with --save_probabilities)"
                )
            for case_id in ids:
                cases.setdefault(case_id, []).append(folder)
        return cls(folders, dict(sorted(cases.items())))

    def complete(self, option: str) -> None:
        """Every case in every folder (the folds of one ensemble)."""
        for case_id, holders in self.cases.items():
            if len(holders) != len(self.folders):
                missing = next(f for f in self.folders if f not in holders)
                raise SeguqError(f"{option} {missing}: no {case_id}.npz (the other folds have it)")


def from_nnunet(
    folds: Sequence[Path],
    images: str | Path,
    out: Path,
    *,
    maps: Sequence[str] = ("total",),
    save_probs: bool = True,
    float_format: str = "npy",
    map_dtype: str = "float16",
    reference: Sequence[Path] = (),
    reference_images: str | Path | None = None,
    ood_alpha: float = 0.05,
    overwrite: bool = False,
    progress: bool = True,
) -> PredictResult:
    """Turn an nnU-Net ensemble's per-fold probabilities into a seguq prediction folder.

    Args:
        folds: one `nnUNetv2_predict --save_probabilities` output folder per fold (S = folds).
        images: the images those cases were predicted from (a folder such as imagesTs, an
            nnU-Net raw dataset folder, or any seguq source); they give each output its grid.
        out: the prediction folder to write.
        maps: uncertainty maps to write per case.
        save_probs, float_format, map_dtype: as for `seguq predict`.
        reference: folders of in-distribution cases' predictions in the same layout (e.g. the
            folds' `validation/` folders); without it scores.csv has no p-value and no flag.
        reference_images: the images of the reference cases (default: `images`).
        ood_alpha: flag a case when its conformal p-value is below this.

    Raises:
        SeguqError: a folder or case is missing, a file is unreadable or does not fit its
            image, or the output folder holds other results without `overwrite`.
    """
    map_names = parse_maps(maps, feature=False)  # no encoder here
    if not 0 < ood_alpha < 1:
        raise SeguqError(f"--ood-alpha: expected a value in (0, 1), got {ood_alpha}")
    members = _Members.scan(folds, "--folds")
    members.complete("--folds")
    source = load_source(images)
    cases = _cases_of(members, source, images)
    class_names = _class_names(members.folders)
    settings = PredictConfig()
    refs = _Members.scan(reference, "--reference") if reference else None
    one_fold = refs is not None and any(len(h) < len(members.folders) for h in refs.cases.values())
    ood_reference = None
    if refs is not None:
        ref_source = load_source(reference_images or images)
        ref_cases = _cases_of(refs, ref_source, reference_images or images)
        ood_reference = _reference(refs, ref_cases, one_fold)
        ood_reference.source = f"{ood_reference.size} cases of {', '.join(map(str, reference))}"
    flag = flag_possible(ood_reference, ood_alpha, Path(reference[0]) if reference else Path())
    folder = OutputFolder(
        Path(out),
        "prediction",
        protected=[
            *source_inputs(source, "the images"),
            *[("an nnU-Net prediction folder", f) for f in members.folders],
            *[("a reference folder", Path(f)) for f in reference],
            *([("the reference images", Path(reference_images))] if reference_images else []),
        ],
    )
    run_settings = {
        "folds": [str(f.resolve()) for f in members.folders],
        "images": str(images),
        "cases": [case.id for case in cases],
        "maps": map_names,
        "probabilities": save_probs,
        "float_format": float_format,
        "map_dtype": map_dtype,
        "reference": [str(Path(r).resolve()) for r in reference],
        "ood_alpha": ood_alpha,
    }
    done = claim_prediction_folder(folder, run_settings, overwrite=overwrite, resume=False)
    writer = CaseWriter(folder.path, map_names, save_probs, 0, float_format, map_dtype=map_dtype)
    try:
        for case in progress_bar(cases, "from-nnunet", "case", progress):
            if case.id in done:
                continue
            probs, geometry = _fold_probabilities(case, members.cases[case.id])
            ensemble_score, _ = writer.write(case.id, probs, geometry, settings)
            score = _member_score(probs, settings) if one_fold else ensemble_score
            components = {"uncertainty": score}
            quality = predicted_dice(probs)
            row = score_row(
                case.id,
                case.domain,
                len(probs),
                components,
                quality,
                ood_reference,
                ood_alpha,
                flag,
            )
            record_finished(folder.path, row)
            done[case.id] = row
    except BaseException:
        folder.abandon(keep_partial=bool(done))
        raise
    rows = [done[case.id] for case in cases]
    scores_csv = write_scores(folder.path / "scores.csv", rows)
    write_json(
        folder.path / "prediction.json",
        {
            "model": None,
            "method": METHOD,
            "folds": run_settings["folds"],
            "input": str(images),
            "samples": len(members.folders),
            "maps": map_names,
            "levels": [],
            "auxiliary_maps": [],
            "probabilities": save_probs,
            "float_format": float_format,
            "map_dtype": map_dtype,
            "ood": {
                "score": settings.ood_score,
                "map": settings.ood_map,
                "alpha": ood_alpha,
                "flag": flag,
                "reference_cases": ood_reference.size if ood_reference else 0,
                "reference": ood_reference.source if ood_reference else None,
                "image_score": "mean of one-fold scores" if one_fold else "the ensemble's",
            },
            "class_names": class_names,
            "cases": len(rows),
        },
    )
    forget_progress(folder.path)
    folder.complete()
    return PredictResult(folder.path, scores_csv, len(rows))


def _cases_of(members: _Members, source, images: str | Path) -> list[Case]:
    """The source's cases that the folders predicted, in the folders' order."""
    by_id = {case.id: case for case in source.cases}
    missing = [case_id for case_id in members.cases if case_id not in by_id]
    if missing:
        holder = members.cases[missing[0]][0]
        raise SeguqError(
            f"{images}: no image for case '{missing[0]}' of {holder} "
            f"({len(missing)} of {len(members.cases)} cases missing)"
        )
    return [by_id[case_id] for case_id in members.cases]


def _class_names(folders: list[Path]) -> list[str] | None:
    """Class names from the dataset.json nnU-Net copies into its prediction folders."""
    for folder in folders:
        if (folder / "dataset.json").is_file():
            return list(read_labels(folder / "dataset.json")[1])
    return None


def _fold_probabilities(case: Case, holders: list[Path]):
    """(S, K, *spatial) probabilities of one case from each fold that holds it, and its grid."""
    _, geometry = read_image(case.images)
    arrays = [read_probabilities(folder / f"{case.id}.npz", geometry) for folder in holders]
    classes = {a.shape[0] for a in arrays}
    if len(classes) > 1:
        raise SeguqError(
            f"case '{case.id}': the folds give different numbers of classes ({sorted(classes)})"
        )
    return torch.from_numpy(np.stack(arrays)), geometry


def _member_score(probs: torch.Tensor, settings: PredictConfig) -> float:
    """The mean over folds of each fold's own image score."""
    return float(np.mean([case_score(probs[i : i + 1], settings) for i in range(len(probs))]))


def _reference(refs: _Members, cases: list[Case], one_fold: bool) -> OODReference:
    """The reference cases' image scores, computed as the new cases' are."""
    settings = PredictConfig()
    scores = []
    for case in cases:
        probs, _ = _fold_probabilities(case, refs.cases[case.id])
        scores.append(_member_score(probs, settings) if one_fold else case_score(probs, settings))
    return OODReference(scores, settings.ood_score, settings.ood_map)
