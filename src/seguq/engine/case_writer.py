"""Writing one case's prediction on the input's grid: mask, probabilities, maps and samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from seguq.config import PredictConfig
from seguq.data.io import Geometry, write_map, write_mask
from seguq.interop.nnunet_files import write_case
from seguq.quality import predicted_dice
from seguq.uncertainty import compute_maps, image_score, mean_probs


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
    ):
        """`nnunet`: also write the mean probabilities as nnU-Net's `<id>.npz` + `<id>.pkl`."""
        self.out, self.maps, self.float_format = out, maps, float_format
        self.save_probs, self.save_samples, self.nnunet = save_probs, save_samples, nnunet

    def write_map(self, name: str, values: torch.Tensor, geometry: Geometry) -> None:
        write_map(self.out / name, values.numpy().astype(np.float32), geometry, self.float_format)

    def write_maps(self, stem: str, probs: torch.Tensor, geometry: Geometry) -> None:
        """The uncertainty maps of (S, K, *spatial) samples as `<stem>_<map>`."""
        for name, values in compute_maps(probs[:, None], self.maps).items():
            self.write_map(f"{stem}_{name}", values[0], geometry)

    def write(
        self, case_id: str, probs: torch.Tensor, geometry: Geometry, settings: PredictConfig
    ) -> tuple[float, float]:
        """Mask, probabilities, maps and samples of (S, K, *spatial) samples; returns the image
        score and the predicted Dice."""
        batch = probs[:, None]  # (S, 1, K, *spatial)
        mean = mean_probs(batch)[0]
        labels = mean.argmax(0)
        write_mask(self.out / f"{case_id}_mask", labels.numpy().astype(np.uint8), geometry)
        if self.save_probs:
            self.write_map(f"{case_id}_probs", mean, geometry)
        if self.nnunet:
            write_case(self.out, case_id, mean.numpy(), geometry)
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
        return float(score[0]), predicted_dice(probs)


def case_score(probs: torch.Tensor, settings: PredictConfig) -> float:
    """The image score of (S, K, *spatial) samples, as `CaseWriter.write` computes it."""
    batch = probs[:, None]
    umap = compute_maps(batch, [settings.ood_map])[settings.ood_map]
    labels = mean_probs(batch).argmax(1)
    return float(image_score(umap, method=settings.ood_score, prediction=labels)[0])
