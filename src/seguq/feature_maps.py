"""Per-pixel feature-space OOD: how far the encoder features at each position lie from the
training images' features at their positions (the `feature` map of `seguq predict --maps`).

The pooled feature distance (`seguq.features`) says whether a whole image is foreign; this map
says *where*. Per resolution level l, features sampled at positions of the training images are
summarised by their mean and covariance, with a ridge of 1e-3 * trace / C_l on the diagonal (the
samples are many, tens of thousands, so the covariance is well estimated; the ridge only keeps
it invertible when channels are dead). At a new image, each position's Mahalanobis distance is
divided by the median distance of the training samples (so every level reads "1 = typical"),
upsampled to the input grid (bilinear / trilinear) and the levels averaged.

Why this, and not an uncertainty map: inserted foreign content often gets a confident
prediction (background), so the entropy there stays low; its features do not look like any
training position. On vessels (DRIVE test images with inserted patches of radiographs and
striped objects) the map finds the inserted pixels with AUROC 0.92-0.95 for every method but
PHiSeg (0.80), where each method's best uncertainty map reaches 0.64-0.80 (docs/FLAGS.md).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from seguq.errors import SeguqError

FILE = "feature_map_reference.npz"
RIDGE = 1e-3


def level_strides(level_shapes: Sequence[Sequence[int]], input_shape: Sequence[int]) -> list[int]:
    """Per level (finest first), the power of two by which it is coarser than the network input.

    The nets pad each axis at its end to a multiple of 2**depth, so the finest level is the
    padded input (stride 1) or a power-of-two reduction of it; each further level's stride
    follows from its size relative to the finest level's."""
    finest = level_shapes[0]
    ratio = max(x / s for x, s in zip(input_shape, finest, strict=True))
    first = 2 ** max(0, math.ceil(math.log2(ratio) - 1e-9))
    return [
        first * round(max(a / b for a, b in zip(finest, shape, strict=True)))
        for shape in level_shapes
    ]


def valid_extent(
    level_shape: Sequence[int], input_shape: Sequence[int], stride: int
) -> tuple[int, ...]:
    """The level's positions that cover input pixels (not the padding at the ends)."""
    return tuple(
        min(s, math.ceil(x / stride)) for x, s in zip(input_shape, level_shape, strict=True)
    )


def sample_positions(
    features: torch.Tensor,
    input_shape: Sequence[int],
    stride: int,
    count: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """`count` (or all, when fewer) positions' features, (n, C), drawn without replacement from
    the unpadded positions of one level's (B, C, *spatial) features."""
    extent = valid_extent(features.shape[2:], input_shape, stride)
    inside = features[(slice(None), slice(None), *(slice(0, e) for e in extent))]
    rows = inside.movedim(1, -1).reshape(-1, features.shape[1])
    if rows.shape[0] > count:
        rows = rows[torch.from_numpy(rng.choice(rows.shape[0], count, replace=False))]
    return rows.float().cpu().numpy().astype(np.float64)


@dataclass
class FeatureMapReference:
    """Per level, the mean, precision and typical distance of training positions' features.

    Attributes:
        means: per level (C_l,).
        precisions: per level (C_l, C_l), the inverse ridge-regularised covariance.
        scales: per level, the median Mahalanobis distance of the training samples.
        samples: per level, how many positions were fitted.
    """

    means: list[np.ndarray]
    precisions: list[np.ndarray]
    scales: list[float]
    samples: list[int]

    @property
    def levels(self) -> int:
        return len(self.means)

    @classmethod
    def fit(cls, rows: list[np.ndarray]) -> FeatureMapReference:
        """From per level the (N_l, C_l) features of sampled training positions.

        Raises:
            SeguqError: a level with fewer than 2 positions.
        """
        means, precisions, scales = [], [], []
        for level, x in enumerate(rows):
            if x.shape[0] < 2:
                raise SeguqError(f"feature maps: level {level} has {x.shape[0]} training positions")
            mean = x.mean(axis=0)
            covariance = np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])
            ridge = RIDGE * max(float(np.trace(covariance)) / x.shape[1], 1e-12)
            precision = np.linalg.inv(covariance + ridge * np.eye(x.shape[1]))
            diff = x - mean
            distances = np.sqrt(np.maximum(np.einsum("nc,cd,nd->n", diff, precision, diff), 0))
            means.append(mean)
            precisions.append(precision)
            scales.append(max(float(np.median(distances)), 1e-12))
        return cls(means, precisions, scales, [len(x) for x in rows])

    def level_maps(self, features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Per level, (B, *spatial_l) Mahalanobis distances / the level's training median."""
        maps = []
        for f, mean, precision, scale in zip(
            features, self.means, self.precisions, self.scales, strict=True
        ):
            f = f.float()
            m = torch.as_tensor(mean, dtype=torch.float32, device=f.device)
            p = torch.as_tensor(precision, dtype=torch.float32, device=f.device)
            diff = f - m.view(1, -1, *[1] * (f.ndim - 2))
            squared = (torch.einsum("bc...,cd->bd...", diff, p) * diff).sum(1)
            maps.append(squared.clamp_min(0).sqrt() / scale)
        return maps

    def distance_map(
        self, features: Sequence[torch.Tensor], input_shape: Sequence[int]
    ) -> torch.Tensor:
        """(B, *input_shape): the levels' distance maps upsampled to the input and averaged.

        Raises:
            SeguqError: features with another number of levels than the reference.
        """
        if len(features) != self.levels:
            raise SeguqError(
                f"feature maps: {len(features)} encoder levels, the reference has {self.levels}"
            )
        total = None
        strides = level_strides([f.shape[2:] for f in features], input_shape)
        for level, stride in zip(self.level_maps(features), strides, strict=True):
            size = [s * stride for s in level.shape[1:]]
            mode = "bilinear" if level.ndim == 3 else "trilinear"
            up = F.interpolate(level[:, None], size=size, mode=mode, align_corners=False)[:, 0]
            up = up[(slice(None), *(slice(0, x) for x in input_shape))]
            total = up if total is None else total + up
        assert total is not None
        return total / self.levels

    def save(self, run_dir: Path) -> Path:
        path = Path(run_dir) / FILE
        arrays = {f"mean{i}": m for i, m in enumerate(self.means)}
        arrays |= {f"precision{i}": p for i, p in enumerate(self.precisions)}
        temp = path.with_name(f".{FILE}.{os.getpid()}.tmp.npz")
        np.savez(temp, scales=np.array(self.scales), samples=np.array(self.samples), **arrays)
        os.replace(temp, path)
        return path

    @classmethod
    def load(cls, run_dir: Path) -> FeatureMapReference | None:
        """The reference saved in a run folder; None when it has none.

        Raises:
            SeguqError: the file is unreadable.
        """
        path = Path(run_dir) / FILE
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                levels = sum(1 for key in data.files if key.startswith("mean"))
                means = [data[f"mean{i}"] for i in range(levels)]
                precisions = [data[f"precision{i}"] for i in range(levels)]
                scales = [float(s) for s in data["scales"]]
                samples = [int(n) for n in data["samples"]]
        except (OSError, ValueError, KeyError) as error:
            raise SeguqError(f"{path}: unreadable feature-map reference ({error})") from None
        if not (len(precisions) == len(scales) == len(samples) == levels):
            raise SeguqError(f"{path}: unreadable feature-map reference (levels disagree)")
        return cls(means, precisions, scales, samples)
