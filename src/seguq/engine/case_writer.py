"""Writing one case's prediction on the input's grid: mask, probabilities, maps and samples."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seguq.config import PredictConfig
from seguq.data.io import Geometry, write_map, write_mask
from seguq.interop.nnunet_files import write_case
from seguq.quality import predicted_dice
from seguq.uncertainty import compute_maps, image_score, mean_probs


@dataclass
class CaseOutputs:
    """What a prediction gives for one case, from its (S, K, *spatial) samples."""

    mean: torch.Tensor  # (K, *spatial) mean probabilities
    labels: torch.Tensor  # (*spatial) argmax of the mean
    maps: dict[str, torch.Tensor]  # name -> (*spatial)
    quality: float  # predicted Dice


def case_outputs(probs: torch.Tensor, maps: list[str]) -> CaseOutputs:
    """The mean, mask, uncertainty maps and predicted Dice of one case's samples."""
    batch = probs[:, None]  # (S, 1, K, *spatial)
    mean = mean_probs(batch)[0]
    umaps = compute_maps(batch, list(dict.fromkeys(maps))) if maps else {}
    return CaseOutputs(
        mean, mean.argmax(0), {k: v[0] for k, v in umaps.items()}, predicted_dice(probs)
    )


class CaseWriter:
    """Writes one case's outputs on the input's grid and returns its image score."""

    def __init__(
        self,
        out: Path,
        maps: list[str],
        save_probs: bool,
        save_samples: int,
        float_format: str,
        nnunet: bool = False,
        map_dtype: str = "float16",
    ):
        """`nnunet`: also write the mean probabilities as nnU-Net's `<id>.npz` + `<id>.pkl`;
        `map_dtype`: the float type of 2D maps and probabilities."""
        self.out, self.maps, self.float_format = out, maps, float_format
        self.map_dtype = map_dtype
        self.save_probs, self.save_samples, self.nnunet = save_probs, save_samples, nnunet

    def write_map(self, name: str, values: torch.Tensor, geometry: Geometry) -> None:
        write_map(
            self.out / name,
            values.numpy().astype(np.float32),
            geometry,
            self.float_format,
            self.map_dtype,
        )

    def write_maps(self, stem: str, probs: torch.Tensor, geometry: Geometry) -> None:
        """The uncertainty maps of (S, K, *spatial) samples as `<stem>_<map>`."""
        for name, values in compute_maps(probs[:, None], self.maps).items():
            self.write_map(f"{stem}_{name}", values[0], geometry)

    def write(
        self, case_id: str, probs: torch.Tensor, geometry: Geometry, settings: PredictConfig
    ) -> tuple[float, float]:
        """Mask, probabilities, maps and samples of (S, K, *spatial) samples; returns the image
        score and the predicted Dice."""
        outputs = case_outputs(probs, [*self.maps, settings.ood_map])
        mean, labels = outputs.mean, outputs.labels
        write_mask(self.out / f"{case_id}_mask", labels.numpy().astype(np.uint8), geometry)
        if self.save_probs:
            self.write_map(f"{case_id}_probs", mean, geometry)
        if self.nnunet:
            write_case(self.out, case_id, mean.numpy(), geometry)
        for name in self.maps:
            self.write_map(f"{case_id}_{name}", outputs.maps[name], geometry)
        if self.save_samples:
            self.write_map(
                f"{case_id}_samples", probs[: self.save_samples].argmax(1).float(), geometry
            )
        score = image_score(
            outputs.maps[settings.ood_map][None], method=settings.ood_score, prediction=labels[None]
        )
        return float(score[0]), outputs.quality


def case_score(probs: torch.Tensor, settings: PredictConfig) -> float:
    """The image score of (S, K, *spatial) samples, as `CaseWriter.write` computes it."""
    batch = probs[:, None]
    umap = compute_maps(batch, [settings.ood_map])[settings.ood_map]
    labels = mean_probs(batch).argmax(1)
    return float(image_score(umap, method=settings.ood_score, prediction=labels)[0])
