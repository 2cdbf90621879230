"""Prediction in memory, for Python users: `Predictor("RUN").predict(array_or_path)` gives the
mask, probabilities, uncertainty maps and scores that `seguq predict` writes for that case, with
the same numbers (same model, samples, seed and case id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seguq.data.io import Geometry, read_image
from seguq.data.sources import load_source
from seguq.devices import set_threads
from seguq.engine.after_training import case_components
from seguq.engine.case_feature_map import FEATURE_MAP, feature_map, feature_maps_of
from seguq.engine.case_sampling import Inference, sample_input
from seguq.engine.case_writer import case_outputs
from seguq.engine.checkpoint import load_method, resolve_model
from seguq.engine.ood_reference import flag_possible
from seguq.engine.predict import ood_reference_for, parse_maps, score_row
from seguq.engine.predict_state import case_seed
from seguq.errors import SeguqError
from seguq.features import FeatureReference


@dataclass
class Prediction:
    """One image's prediction, on the input's grid.

    Attributes:
        mask: (*spatial) class indices.
        probabilities: (K, *spatial) mean class probabilities over the samples.
        maps: uncertainty maps by name ("total", "epistemic", ...), each (*spatial), in nats
            ("feature": the feature distance, 1 = typical of the training images).
        scores: the case's scores.csv row: "score" (combined OOD score), "p_value", "ood",
            "predicted_dice", "samples" and the score's components.
        geometry: the grid (affine and header for NIfTI inputs).
    """

    mask: np.ndarray
    probabilities: np.ndarray
    maps: dict[str, np.ndarray]
    scores: dict[str, object]
    geometry: Geometry


class Predictor:
    """A trained run, ready to predict images in memory.

    Example:
        >>> from seguq import Predictor
        >>> predictor = Predictor("runs/hue", maps=["total", "epistemic"])
        >>> out = predictor.predict("case_001.nii.gz")      # or a (C, H, W) / (C, X, Y, Z) array
        >>> out.mask.shape, out.maps["total"].max(), out.scores["ood"]
    """

    def __init__(
        self,
        model: str | Path,
        *,
        samples: int | None = None,
        maps: Sequence[str] = ("total",),
        seed: int = 0,
        ood_alpha: float | None = None,
        calibration_data: str | Path | None = None,
        device: str = "auto",
        precision: str = "auto",
        threads: int | None = None,
    ):
        """Load a run folder (or checkpoint) and its OOD reference.

        Raises:
            SeguqError: a missing or unreadable model, or an option out of range.
        """
        if samples is not None and samples < 1:
            raise SeguqError(f"samples: expected a positive number, got {samples}")
        set_threads(threads)
        self.maps = parse_maps(maps)
        self.samples, self.seed = samples, int(seed)
        checkpoint = resolve_model(Path(model))
        self.method = load_method(checkpoint)
        self.config = self.method.config
        self.inference = Inference.for_run(self.config, device, precision)
        self.method.to(self.inference.device)
        self.alpha = self.config.predict.ood_alpha if ood_alpha is None else ood_alpha
        if not 0 < self.alpha < 1:
            raise SeguqError(f"ood_alpha: expected a value in (0, 1), got {self.alpha}")
        self.reference = ood_reference_for(
            checkpoint, self.method, self.inference, calibration_data
        )
        self.flag = flag_possible(self.reference, self.alpha, checkpoint)
        self.features = FeatureReference.load(checkpoint.parent.parent)
        self.feature_maps = feature_maps_of(checkpoint, self.maps)

    @property
    def class_names(self) -> list[str]:
        names = self.config.data.class_names
        return list(names) if names else [f"class{k}" for k in range(self.config.data.num_classes)]

    def predict(
        self,
        image: str | Path | np.ndarray,
        *,
        spacing: Sequence[float] | None = None,
        case_id: str | None = None,
    ) -> Prediction:
        """Predict one image: a file (any format `seguq predict` reads) or an array.

        Arrays are channels first, (C, H, W) or (C, X, Y, Z) in raw intensities (the run's
        normalisation is applied here); a model with one input channel also takes (H, W) and
        volumes (X, Y, Z). `spacing` is the voxel size of an array (default 1 per axis).
        `case_id` seeds the samples as `seguq predict` does (default: the file's case id, or
        "image"), so that a file gives the numbers the command line writes for it.

        Raises:
            SeguqError: an unreadable file or an array of the wrong shape.
        """
        if isinstance(image, (str, Path)):
            case = load_source(image).cases[0]
            raw, geometry = read_image(case.images)
            case_id, where, domain = case_id or case.id, str(case.image), case.domain
        else:
            raw, geometry = self._array(image, spacing)
            case_id, where, domain = case_id or "image", "the array", ""
        torch.manual_seed(case_seed(self.seed, case_id))
        probs = sample_input(
            self.method.sample,
            raw,
            geometry,
            self.samples,
            self.inference,
            path=where,
            shared_noise=self.method.image_level_latent,
        )
        outputs = case_outputs(probs, [name for name in self.maps if name != FEATURE_MAP])
        components = case_components(
            self.method, raw, geometry, probs, self.inference, self.features, where
        )
        scores = score_row(
            case_id,
            domain,
            probs.shape[0],
            components,
            outputs.quality,
            self.reference,
            self.alpha,
            self.flag,
        )
        return Prediction(
            mask=outputs.labels.numpy().astype(np.uint8),
            probabilities=outputs.mean.numpy(),
            maps=self._maps(outputs, raw, geometry, where),
            scores=scores,
            geometry=geometry,
        )

    def _maps(self, outputs, raw: np.ndarray, geometry: Geometry, where: str) -> dict:
        maps = {name: values.numpy() for name, values in outputs.maps.items()}
        if self.feature_maps is not None:
            distances = feature_map(
                self.method, self.feature_maps, raw, geometry, self.inference, where
            )
            maps[FEATURE_MAP] = distances.numpy()
        return {name: maps[name] for name in self.maps}

    def _array(
        self, image: np.ndarray, spacing: Sequence[float] | None
    ) -> tuple[np.ndarray, Geometry]:
        array = np.asarray(image, dtype=np.float32)
        channels = self.config.data.in_channels
        if channels == 1 and array.ndim in (2, 3) and not (array.ndim == 3 and array.shape[0] == 1):
            array = array[None]
        if array.ndim not in (3, 4) or array.shape[0] != channels:
            raise SeguqError(
                f"image array of shape {tuple(np.shape(image))}: expected ({channels}, H, W) or "
                f"({channels}, X, Y, Z), channels first, for this model"
            )
        if not np.isfinite(array).all():
            raise SeguqError("image array: contains NaN or infinite values")
        spatial = tuple(int(s) for s in array.shape[1:])
        zooms = tuple(float(z) for z in (spacing or [1.0] * len(spatial)))
        if len(zooms) != len(spatial) or min(zooms) <= 0:
            raise SeguqError(f"spacing {spacing}: expected {len(spatial)} positive values")
        if len(spatial) == 3:
            affine = np.diag([*zooms, 1.0])
            geometry = Geometry("nifti", spatial, affine, None, zooms, ".nii.gz")
        else:
            geometry = Geometry("png", spatial, None, None, zooms, ".png")
        return np.ascontiguousarray(array), geometry
