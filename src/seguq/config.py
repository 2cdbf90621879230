"""One typed schema for every run: YAML in, YAML saved beside each run.

A run's configuration has four sections. Unknown keys are refused with a message that names the
key and the section, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from seguq.errors import SeguqError


@dataclass
class DataConfig:
    """Where the training data comes from and how it is cut into patches."""

    source: str = "synthetic"
    train_split: str = "train"
    val_split: str = "val"
    train_domains: list[str] = field(default_factory=list)
    val_domains: list[str] = field(default_factory=list)
    val_fraction: float = 0.2  # used when the source has no `val_split`
    # In-distribution cases whose image scores the OOD p-values use ("": the validation cases).
    calibration_source: str = ""
    label_map: dict[int, int] | None = None
    class_names: list[str] | None = None
    dims: int = 2  # the network's spatial dimensions: 2 (volumes cut into slices) or 3
    slice_axis: int = 2  # spatial axis along which 3D volumes are cut into 2D slices
    # Resample to this spacing (one value per spatial axis of the input; 2D images have 1 px);
    # [] keeps every case on its own grid. Outputs are restored to the input's grid.
    target_spacing: list[float] = field(default_factory=list)
    normalization: str = "zscore"  # "zscore" per image and channel | "ct" (clip + global stats)
    ct_stats: list[float] = field(default_factory=list)  # "ct": [low, high, mean, std]
    patch_size: list[int] = field(default_factory=lambda: [128, 128])  # one side per dims
    batch_size: int = 8
    foreground_fraction: float = 0.33  # patches centred on a foreground voxel of a random class
    augment: bool = True  # random flips of the training patches
    flip_axes: list[int] | None = None  # patch axes that may be flipped; None = all
    rotation: float = 0.0  # random rotation up to this many degrees (0 = none)
    scaling: list[float] = field(default_factory=list)  # random zoom range, e.g. [0.7, 1.4]
    # "none" | "standard" (brightness, contrast, gamma, noise, blur) | "domain" (stronger,
    # domain-randomising transforms)
    intensity_augment: str = "none"
    rater: str = "random"  # annotators a training item carries: "random", "first" or "all"
    # Filled in from the data when training starts; saved so that prediction can check its input.
    in_channels: int = 0
    num_classes: int = 0


@dataclass
class NetConfig:
    """The U-Net backbone (2D or 3D, as `data.dims`)."""

    widths: list[int] = field(default_factory=lambda: [16, 32, 64, 128])
    norm: str = "instance"  # "instance" | "batch" | "group" | "none"
    dropout: float = 0.0
    dropout_placement: str = "decoder"  # "decoder" | "encoder" | "all" | "bottleneck"


@dataclass
class MethodConfig:
    """Which uncertainty method, and its settings."""

    name: str = "deterministic"
    samples: int = 0  # default S at prediction; 0 = the method's own default
    members: int = 5  # ensemble size
    mc_dropout: float = 0.2  # dropout rate used by mc_dropout
    tta_flips: bool = True
    tta_intensity: list[float] = field(default_factory=lambda: [0.9, 1.1])
    calibrate: bool = False  # fit a temperature on the validation data after training
    options: dict[str, Any] = field(default_factory=dict)  # method-specific extras


@dataclass
class TrainConfig:
    """The optimisation budget and the Lightning trainer."""

    epochs: int = 20
    steps_per_epoch: int = 0  # 0 = one pass over the training slices
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    devices: int = 1
    strategy: str = "auto"
    accelerator: str = "auto"  # a GPU when there is one
    precision: str = "auto"  # bf16 mixed where fast, fp16 mixed on other GPUs, else 32-bit
    threads: int = 0  # torch CPU threads; 0 = the free physical cores (seguq.devices)
    workers: int = -1  # data-loading processes; -1 = none on a CPU, up to 8 beside a GPU
    loggers: list[str] = field(default_factory=list)  # also "tensorboard", "mlflow" (csv always)
    patience: int = 0  # stop when validation Dice has not improved for this many epochs; 0 = never
    min_delta: float = 0.001  # the improvement of validation Dice that counts
    progress: bool = True


@dataclass
class PredictConfig:
    """Defaults for inference and the OOD flag."""

    ood_score: str = "foreground"  # image score: "foreground" | "mean" | "top" (DESIGN.md)
    ood_map: str = "total"
    ood_alpha: float = 0.05  # flag a case when its conformal p-value is below this
    ood_percentile: float = 95.0  # unused since 2026-12 (the flag is conformal); kept for old runs
    overlap: float = 0.25  # sliding-window overlap


@dataclass
class RunConfig:
    """Everything that defines a run; reproducible from this and its seed."""

    data: DataConfig = field(default_factory=DataConfig)
    net: NetConfig = field(default_factory=NetConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (YAML- and JSON-safe)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], origin: str = "config") -> RunConfig:
        """Build a config from a nested dict, refusing unknown sections and keys.

        Raises:
            SeguqError: an unknown key, a value of the wrong type or out of range.
        """
        from seguq.config_checks import check_config

        config = _build(cls, {} if raw is None else raw, origin)
        check_config(config, origin)
        return config


def _build(kind: type, raw: dict[str, Any], origin: str) -> Any:
    if not isinstance(raw, dict):
        raise SeguqError(f"{origin}: expected a mapping, got {type(raw).__name__}")
    hints = get_type_hints(kind)
    known = {f.name for f in fields(kind)}
    values = {}
    for key, value in raw.items():
        if key not in known:
            raise SeguqError(f"{origin}: unknown key '{key}' (known: {', '.join(sorted(known))})")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            values[key] = _build(hint, value, f"{origin}.{key}")
        else:
            values[key] = _coerce(value, hint, f"{origin}.{key}")
    return kind(**values)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    base = getattr(hint, "__origin__", hint)
    if value is None:
        return None
    if base in (int, float, str, bool):
        if base is bool and not isinstance(value, bool):
            raise SeguqError(f"{where}: expected true/false, got {value!r}")
        if base in (int, float) and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise SeguqError(f"{where}: expected a number, got {value!r}")
        if base is int and isinstance(value, float) and not value.is_integer():
            raise SeguqError(f"{where}: expected an integer, got {value!r}")
        return base(value)
    if base is list and not isinstance(value, list | tuple):
        raise SeguqError(f"{where}: expected a list, got {value!r}")
    if base is list:
        return list(value)
    if _is_mapping_hint(hint) and not isinstance(value, dict):
        raise SeguqError(f"{where}: expected a mapping, got {value!r}")
    if isinstance(value, dict):
        return {(int(k) if str(k).lstrip("-").isdigit() else k): v for k, v in value.items()}
    return value


def _is_mapping_hint(hint: Any) -> bool:
    """dict[...] or dict[...] | None."""
    if getattr(hint, "__origin__", None) is dict:
        return True
    return any(getattr(arg, "__origin__", None) is dict for arg in getattr(hint, "__args__", ()))


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read a YAML config (or start from defaults) and apply overrides.

    Args:
        path: a YAML file, or None for the defaults.
        overrides: nested dict of values that win over the file (e.g. from the command line).

    Raises:
        SeguqError: the file is missing, is not YAML, holds unknown keys or values out of range.
    """
    merged = merge_nested(read_config_file(path), overrides or {})
    return RunConfig.from_dict(merged, origin=str(path) if path else "config")


def read_config_file(path: Path | None) -> dict[str, Any]:
    """The nested values a YAML config file sets ({} for None).

    Raises:
        SeguqError: the file is missing, is not YAML, or is not a mapping of sections.
    """
    if path is None:
        return {}
    path = Path(path)
    if not path.is_file():
        raise SeguqError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        first = str(error).splitlines()[0]
        raise SeguqError(f"{path}: not valid YAML ({first})") from error
    if not isinstance(raw, dict):
        raise SeguqError(
            f"{path}: expected a mapping of sections (data, net, method, train, predict) at "
            f"the top level, got a {type(raw).__name__}"
        )
    RunConfig.from_dict(raw, origin=str(path))  # every key and value checked, naming the file
    return raw


def merge_nested(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`base` updated with `extra`, nested dicts merged key by key (neither is modified)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_nested(out[key], value)
        else:
            out[key] = value
    return out


def save_config(config: RunConfig, path: Path) -> None:
    """Write the resolved config as YAML (atomically)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    tmp.replace(path)
