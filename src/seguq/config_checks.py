"""Range checks of every value of a run config, applied where a config enters (file, command line,
Python API), so that the inner code can trust its numbers.

Each rule names the key as a user writes it (`train.epochs`), the range, and the value found.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from seguq.errors import SeguqError

NORMS = ("instance", "batch", "group", "none")
DROPOUT_PLACEMENTS = ("decoder", "encoder", "all", "bottleneck")
INTENSITY_AUGMENTS = ("none", "standard", "domain")
NORMALIZATIONS = ("zscore", "ct")
RATERS = ("random", "first", "all")
ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "auto")
PRECISIONS = ("auto", "32", "32-true", "16", "16-mixed", "bf16", "bf16-mixed")
OOD_SCORES = ("foreground", "mean", "top")
OOD_MAPS = ("total", "aleatoric", "epistemic", "variance")
SPATIAL_AXES = (0, 1, 2)
# The smallest patch side a U-Net with a few pooling levels can use.
MIN_PATCH = 8
# Seeds feed NumPy's generators, which take 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def at_least(low: float, integer: bool = True) -> tuple[Callable[[Any], bool], str]:
    """A rule: an integer (or finite number) >= low."""
    kind = "an integer" if integer else "a number"
    test = _integer if integer else _number
    return (lambda v: test(v) and v >= low), f"{kind} >= {low:g}"


def above(low: float) -> tuple[Callable[[Any], bool], str]:
    """A rule: a finite number > low."""
    return (lambda v: _number(v) and v > low), f"a finite number > {low:g}"


def fraction(*, closed_high: bool = False) -> tuple[Callable[[Any], bool], str]:
    """A rule: a number in [0, 1) (or [0, 1])."""
    if closed_high:
        return (lambda v: _number(v) and 0 <= v <= 1), "a number in [0, 1]"
    return (lambda v: _number(v) and 0 <= v < 1), "a number in [0, 1)"


def one_of(choices: tuple) -> tuple[Callable[[Any], bool], str]:
    """A rule: one of the given values."""
    return (lambda v: v in choices), "one of " + ", ".join(str(c) for c in choices)


def _positive_list(minimum: int, length: int | None = None) -> tuple[Callable[[Any], bool], str]:
    def test(values: Any) -> bool:
        if not isinstance(values, list) or not values:
            return False
        if length is not None and len(values) != length:
            return False
        return all(_integer(v) and v >= minimum for v in values)

    size = f"{length} " if length else ""
    return test, f"a list of {size}integers >= {minimum}"


RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "data.val_fraction": fraction(),
    "data.dims": one_of((2, 3)),
    "data.slice_axis": one_of(SPATIAL_AXES),
    "data.patch_size": _positive_list(MIN_PATCH),
    "data.batch_size": at_least(1),
    "data.normalization": one_of(NORMALIZATIONS),
    "data.foreground_fraction": fraction(closed_high=True),
    "data.rotation": (lambda v: _number(v) and 0 <= v <= 180, "a number of degrees in [0, 180]"),
    "data.intensity_augment": one_of(INTENSITY_AUGMENTS),
    "data.rater": one_of(RATERS),
    "data.in_channels": at_least(0),
    "data.num_classes": at_least(0),
    "net.widths": _positive_list(1),
    "net.norm": one_of(NORMS),
    "net.dropout": fraction(),
    "net.dropout_placement": one_of(DROPOUT_PLACEMENTS),
    "method.samples": at_least(0),
    "method.members": at_least(1),
    "method.mc_dropout": fraction(),
    "train.epochs": at_least(1),
    "train.steps_per_epoch": at_least(0),
    "train.lr": above(0),
    "train.weight_decay": at_least(0, integer=False),
    "train.seed": (lambda v: _integer(v) and 0 <= v <= MAX_SEED, f"an integer in 0..{MAX_SEED}"),
    "train.devices": at_least(1),
    "train.accelerator": one_of(ACCELERATORS),
    "train.precision": one_of(PRECISIONS),
    "train.threads": at_least(0),
    "train.workers": at_least(-1),
    "train.patience": at_least(0),
    "train.loggers": (
        lambda v: isinstance(v, list) and all(n in ("csv", "tensorboard", "mlflow") for n in v),
        "a list of csv, tensorboard, mlflow",
    ),
    "train.min_delta": at_least(0, integer=False),
    "predict.ood_score": one_of(OOD_SCORES),
    "predict.ood_map": one_of(OOD_MAPS),
    "predict.ood_percentile": (lambda v: _number(v) and 0 < v < 100, "a number in (0, 100)"),
    "predict.ood_alpha": (lambda v: _number(v) and 0 < v < 1, "a number in (0, 1)"),
    "predict.overlap": fraction(),
}


def check_config(config: Any, origin: str = "config") -> None:
    """Range-check every value of a RunConfig.

    Args:
        config: a `seguq.config.RunConfig`.
        origin: where it came from (a file name), for the message.

    Raises:
        SeguqError: the first value out of range, named as `section.key`.
    """
    for key, (test, expected) in RULES.items():
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        if not test(value):
            raise SeguqError(f"{origin}: {key} must be {expected}, got {value!r}")
    label_map = config.data.label_map or {}
    for raw, index in label_map.items():
        if not (_integer(raw) and _integer(index) and index >= 0):
            raise SeguqError(
                f"{origin}: data.label_map must map integer mask values to class indices >= 0, "
                f"got {raw!r}: {index!r}"
            )
    _check_data_lists(config.data, origin)
    scales = config.method.tta_intensity
    if not all(_number(s) and s > 0 for s in scales):
        raise SeguqError(
            f"{origin}: method.tta_intensity must be a list of finite numbers > 0, got {scales!r}"
        )


def _check_data_lists(data: Any, origin: str) -> None:
    """The list-valued data settings: their lengths follow `data.dims`."""
    if len(data.patch_size) != data.dims:
        raise SeguqError(
            f"{origin}: data.patch_size must have {data.dims} sides (data.dims {data.dims}), "
            f"got {data.patch_size!r}"
        )
    if not all(_number(s) and s > 0 for s in data.target_spacing) or len(data.target_spacing) > 3:
        raise SeguqError(
            f"{origin}: data.target_spacing must be [] or up to 3 numbers > 0, got "
            f"{data.target_spacing!r}"
        )
    if data.flip_axes is not None and not all(
        _integer(a) and 0 <= a < data.dims for a in data.flip_axes
    ):
        raise SeguqError(
            f"{origin}: data.flip_axes must list patch axes 0..{data.dims - 1}, got "
            f"{data.flip_axes!r}"
        )
    scaling = data.scaling
    if scaling and not (
        len(scaling) == 2
        and all(_number(s) and s > 0 for s in scaling)
        and scaling[0] <= scaling[1]
    ):
        raise SeguqError(
            f"{origin}: data.scaling must be [] or [low, high] with 0 < low <= high, got "
            f"{scaling!r}"
        )
    stats = data.ct_stats
    if data.normalization == "ct" and not (
        len(stats) == 4 and all(_number(s) for s in stats) and stats[0] < stats[1] and stats[3] > 0
    ):
        raise SeguqError(
            f"{origin}: data.ct_stats must be [low, high, mean, std] (low < high, std > 0) with "
            f"data.normalization ct, got {stats!r}"
        )
