"""Calibration of the mean predictive distribution: ECE, Brier score, NLL, reliability, temperature.

All functions take the mean class probabilities ``(B, K, *spatial)`` (``uncertainty.mean_probs``)
and int64 labels ``(B, *spatial)``; every pixel is one prediction.

ECE uses ``num_bins`` equal-width confidence bins on [0, 1] (bin b holds confidences in
[b/n, (b+1)/n), the last bin also holds 1.0); confidence = max mean probability, correct =
(argmax == label); ECE = sum_b (n_b / N) |accuracy_b - confidence_b|. The foreground variant
uses only pixels where the label or the prediction is foreground (class != 0), so that the
large, easy background does not hide miscalibration on the structures. ECE is not averageable
over batches: accumulate with ``CalibrationAccumulator`` and compute once.

Temperature scaling: calibrated probabilities are ``softmax(logits / T)``; ``fit_temperature``
finds T on validation data. A sampling method without logits can use ``log(mean_probs)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy.optimize import minimize_scalar

from seguq.errors import SeguqError

__all__ = [
    "CalibrationAccumulator",
    "brier_score",
    "expected_calibration_error",
    "fit_temperature",
    "negative_log_likelihood",
    "reliability_diagram",
    "temperature_scale",
]

EPS = 1e-12


def _check(probs: torch.Tensor, labels: torch.Tensor) -> None:
    if probs.ndim < 2 or labels.shape != probs.shape[:1] + probs.shape[2:]:
        raise SeguqError(
            f"expected probabilities (B, K, *spatial) and labels (B, *spatial), got "
            f"{tuple(probs.shape)} and {tuple(labels.shape)}"
        )
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= probs.shape[1]):
        raise SeguqError(
            f"labels must be class indices in [0, {probs.shape[1] - 1}], found values in "
            f"[{int(labels.min())}, {int(labels.max())}]"
        )


def _flatten(probs: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, K, *sp), (B, *sp) -> (N, K) float64, (N,) int64."""
    _check(probs, labels)
    flat = probs.detach().movedim(1, -1).reshape(-1, probs.shape[1]).double()
    return flat, labels.detach().reshape(-1).long().to(flat.device)


class _BinCounts:
    """Per-bin count, confidence sum and correct sum; adding is exact, so it accumulates."""

    def __init__(self, num_bins: int) -> None:
        if num_bins < 1:
            raise SeguqError(f"num_bins must be >= 1, got {num_bins}")
        self.num_bins = num_bins
        self.count = np.zeros(num_bins, dtype=np.float64)
        self.confidence = np.zeros(num_bins, dtype=np.float64)
        self.correct = np.zeros(num_bins, dtype=np.float64)

    def add(self, confidence: torch.Tensor, correct: torch.Tensor) -> None:
        index = (confidence * self.num_bins).long().clamp_(0, self.num_bins - 1)
        size = self.num_bins
        self.count += torch.bincount(index, minlength=size).cpu().double().numpy()
        self.confidence += torch.bincount(index, confidence, minlength=size).cpu().numpy()
        self.correct += torch.bincount(index, correct.double(), minlength=size).cpu().numpy()

    def ece(self) -> float:
        total = self.count.sum()
        if total == 0:
            return math.nan
        gap = np.abs(self.correct - self.confidence)  # = n_b |acc_b - conf_b|
        return float(gap.sum() / total)

    def reliability(self) -> list[dict[str, float]]:
        bins = []
        for b in range(self.num_bins):
            n = self.count[b]
            bins.append(
                {
                    "bin_lower": b / self.num_bins,
                    "bin_upper": (b + 1) / self.num_bins,
                    "count": int(n),
                    "confidence": float(self.confidence[b] / n) if n else math.nan,
                    "accuracy": float(self.correct[b] / n) if n else math.nan,
                }
            )
        return bins


# Pixel sets calibration is measured on (`expected_calibration_error`).
REGIONS = ("all", "foreground", "predicted")


def _confidence_stats(
    flat: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Confidence, correctness, foreground region and predicted foreground, each (N,)."""
    confidence, prediction = flat.max(1)
    correct = prediction == labels
    foreground = (labels != 0) | (prediction != 0)
    return confidence, correct, foreground, prediction != 0


def _bins(probs: torch.Tensor, labels: torch.Tensor, num_bins: int, region: str) -> _BinCounts:
    if region not in REGIONS:
        raise SeguqError(f"unknown calibration region {region!r}; known: {', '.join(REGIONS)}")
    confidence, correct, foreground, predicted = _confidence_stats(*_flatten(probs, labels))
    if region != "all":
        chosen = foreground if region == "foreground" else predicted
        confidence, correct = confidence[chosen], correct[chosen]
    counts = _BinCounts(num_bins)
    counts.add(confidence, correct)
    return counts


def expected_calibration_error(
    probs: torch.Tensor, labels: torch.Tensor, num_bins: int = 15, region: str = "all"
) -> float:
    """Expected calibration error over the pixels of ``probs``.

    Args:
        probs: mean class probabilities, (B, K, *spatial).
        labels: int class indices, (B, *spatial).
        num_bins: number of equal-width confidence bins.
        region: "all" pixels, "foreground" (label or prediction != 0), or "predicted"
            (prediction != 0: chosen by the model alone, so a calibrated model scores ~0 there;
            "foreground" also picks pixels by their label, which makes even a calibrated model
            look over-confident on the pixels it misses).

    Returns:
        ECE in [0, 1]; NaN if the region is empty.

    Raises:
        SeguqError: for mismatched shapes, labels outside [0, K), num_bins < 1, unknown region.
    """
    return _bins(probs, labels, num_bins, region).ece()


def reliability_diagram(
    probs: torch.Tensor, labels: torch.Tensor, num_bins: int = 15, region: str = "all"
) -> list[dict[str, float]]:
    """Reliability-diagram data: per confidence bin, its count, mean confidence and accuracy.

    Args:
        probs: mean class probabilities, (B, K, *spatial).
        labels: int class indices, (B, *spatial).
        num_bins: number of equal-width confidence bins.
        region: "all", "foreground" or "predicted" (as for `expected_calibration_error`).

    Returns:
        One dict per bin: bin_lower, bin_upper, count, confidence, accuracy (NaN for empty bins).

    Raises:
        SeguqError: for mismatched shapes, labels outside [0, K), num_bins < 1, unknown region.
    """
    return _bins(probs, labels, num_bins, region).reliability()


def _brier_sum(flat: torch.Tensor, labels: torch.Tensor) -> float:
    onehot = torch.nn.functional.one_hot(labels, flat.shape[1]).to(flat.dtype)
    return float(((flat - onehot) ** 2).sum())


def _nll_sum(flat: torch.Tensor, labels: torch.Tensor) -> float:
    picked = flat.gather(1, labels[:, None]).squeeze(1)
    return float(-picked.clamp_min(EPS).log().sum())


def brier_score(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Brier score: mean over pixels of sum_k (p_k - onehot_k)^2.

    Args:
        probs: mean class probabilities, (B, K, *spatial).
        labels: int class indices, (B, *spatial).

    Returns:
        Brier score in [0, 2].

    Raises:
        SeguqError: for mismatched shapes or labels outside [0, K).
    """
    flat, labels_flat = _flatten(probs, labels)
    return _brier_sum(flat, labels_flat) / max(labels_flat.numel(), 1)


def negative_log_likelihood(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over pixels of -log p[label] (p clamped at 1e-12), in nats.

    Args:
        probs: mean class probabilities, (B, K, *spatial).
        labels: int class indices, (B, *spatial).

    Returns:
        NLL >= 0.

    Raises:
        SeguqError: for mismatched shapes or labels outside [0, K).
    """
    flat, labels_flat = _flatten(probs, labels)
    return _nll_sum(flat, labels_flat) / max(labels_flat.numel(), 1)


class CalibrationAccumulator:
    """Calibration over a whole data set: fixed-bin sums and running Brier/NLL sums.

    Batches can be fed in any order and split any way; ``compute`` gives the same result as
    the pure functions on all pixels at once.

    Args:
        num_bins: number of equal-width confidence bins.

    Raises:
        SeguqError: if num_bins < 1.
    """

    def __init__(self, num_bins: int = 15) -> None:
        self.num_bins = num_bins
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated so far."""
        self._all = _BinCounts(self.num_bins)
        self._foreground = _BinCounts(self.num_bins)
        self._predicted = _BinCounts(self.num_bins)
        self._brier = 0.0
        self._nll = 0.0
        self._pixels = 0

    def update(
        self, mean_probs: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None
    ) -> None:
        """Add a batch.

        Args:
            mean_probs: mean class probabilities, (B, K, *spatial).
            labels: int class indices, (B, *spatial).
            mask: bool (B, *spatial), the pixels that count (a region of interest); None: all.

        Raises:
            SeguqError: for mismatched shapes or labels outside [0, K).
        """
        flat, labels_flat = _flatten(mean_probs, labels)
        if mask is not None:
            keep = mask.detach().reshape(-1).bool().to(flat.device)
            flat, labels_flat = flat[keep], labels_flat[keep]
        confidence, correct, foreground, predicted = _confidence_stats(flat, labels_flat)
        self._all.add(confidence, correct)
        self._foreground.add(confidence[foreground], correct[foreground])
        self._predicted.add(confidence[predicted], correct[predicted])
        self._brier += _brier_sum(flat, labels_flat)
        self._nll += _nll_sum(flat, labels_flat)
        self._pixels += labels_flat.numel()

    def compute(self) -> dict:
        """Calibration metrics of everything seen so far.

        Returns:
            ``{"ece", "ece_foreground", "ece_predicted_foreground", "brier", "nll": float,
            "num_pixels": int,
            "reliability", "reliability_foreground": list of per-bin dicts}``; NaN where no
            pixels were seen.
        """
        pixels = self._pixels
        return {
            "ece": self._all.ece(),
            "ece_foreground": self._foreground.ece(),
            "ece_predicted_foreground": self._predicted.ece(),
            "brier": self._brier / pixels if pixels else math.nan,
            "nll": self._nll / pixels if pixels else math.nan,
            "num_pixels": pixels,
            "reliability": self._all.reliability(),
            "reliability_foreground": self._foreground.reliability(),
        }


def temperature_scale(probs: torch.Tensor, temperature: float, class_dim: int = 2) -> torch.Tensor:
    """Apply temperature scaling to probabilities: softmax(log p / T) along ``class_dim``.

    Args:
        probs: class probabilities, e.g. samples (S, B, K, *spatial) with ``class_dim=2``, or
            mean probabilities (B, K, *spatial) with ``class_dim=1``.
        temperature: T > 0; T > 1 softens, T < 1 sharpens.
        class_dim: the class axis.

    Returns:
        Scaled probabilities, same shape.

    Raises:
        SeguqError: if the temperature is not positive.
    """
    if not temperature > 0:
        raise SeguqError(f"temperature must be > 0, got {temperature}")
    logits = probs.clamp_min(EPS).log()
    return torch.softmax(logits / temperature, dim=class_dim)


def fit_temperature(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    bounds: Sequence[float] = (0.05, 20.0),
    max_samples: int | None = 1_000_000,
    seed: int = 0,
) -> float:
    """Fit the temperature T minimising the NLL of softmax(logits / T) on validation data.

    A bounded 1-D search (scipy ``minimize_scalar``) over log T; the NLL is convex in 1/T, so
    the minimum found is the global one within the bounds.

    Args:
        logits: (N, K), or (B, K, *spatial) for dense predictions.
        labels: int class indices, (N,) or (B, *spatial).
        bounds: search interval for T.
        max_samples: fit on a seeded random subset of this many pixels (None: all).
        seed: seed of that subset.

    Returns:
        The fitted temperature T > 0.

    Raises:
        SeguqError: for mismatched shapes, labels outside [0, K), no samples, or bad bounds.
    """
    low, high = (float(b) for b in bounds)
    if not 0 < low < high:
        raise SeguqError(f"temperature bounds must satisfy 0 < low < high, got {tuple(bounds)}")
    flat, labels_flat = _flatten(logits, labels)
    if labels_flat.numel() == 0:
        raise SeguqError("cannot fit a temperature on zero samples")
    if max_samples is not None and labels_flat.numel() > max_samples:
        generator = torch.Generator().manual_seed(seed)
        keep = torch.randperm(labels_flat.numel(), generator=generator)[:max_samples]
        flat, labels_flat = flat[keep.to(flat.device)], labels_flat[keep.to(flat.device)]

    def nll(log_t: float) -> float:
        scaled = flat / math.exp(log_t)
        return float(torch.nn.functional.cross_entropy(scaled, labels_flat))

    result = minimize_scalar(
        nll, bounds=(math.log(low), math.log(high)), method="bounded", options={"xatol": 1e-5}
    )
    return float(math.exp(result.x))
