"""The `seguq` command line's argument types and the option groups several commands share."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from seguq.config import MethodConfig, TrainConfig


def method_names() -> list[str]:
    from seguq.methods.base import method_names

    return method_names()


def csv_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def int_at_least(low: int):
    """An argparse type: an integer >= low (the message names the range and the value)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got '{text}'") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
        return value

    return parse


def float_in(low: float, high: float | None = None, *, closed_low: bool = False):
    """An argparse type: a finite number > low (>= with closed_low) and < high."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
        too_low = value < low if closed_low else value <= low
        if not math.isfinite(value) or too_low or (high is not None and value >= high):
            bracket = "[" if closed_low else "("
            span = f"in {bracket}{low:g}, {high:g})" if high is not None else f"> {low:g}"
            raise argparse.ArgumentTypeError(f"expected a number {span}, got {text}")
        return value

    return parse


POSITIVE = int_at_least(1)
NON_NEGATIVE = int_at_least(0)
PATCH_SIDE = int_at_least(8)


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=POSITIVE,
        help="torch CPU threads (default: the physical cores not busy with other work)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", default="auto", help="auto (a GPU when there is one) | cpu | cuda[:N]"
    )
    parser.add_argument(
        "--precision", default="auto", help="auto (bf16/fp16 mixed where fast) | 32 | bf16 | 16"
    )


def add_map_dtype(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--map-dtype",
        default="float16",
        choices=["float16", "float32"],
        help="float type of the maps and probabilities of 2D inputs (NIfTI: always float32;"
        " default float16)",
    )


def add_plan_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dims", type=int, choices=(2, 3), help="2 (slices of volumes) or 3 (a 3D network)"
    )
    parser.add_argument(
        "--patience", type=NON_NEGATIVE, help="early stopping after N epochs without progress"
    )
    parser.add_argument(
        "--minutes",
        type=float_in(0.0),
        default=25.0,
        help="training time the plan sizes its budget to (default 25)",
    )


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options `train` and `plan` share: what to train on and how."""
    parser.add_argument(
        "--data", help="CSV manifest, data folder, or 'synthetic' (not needed with --resume)"
    )
    parser.add_argument(
        "--method",
        help=f"{' | '.join(method_names())} (default deterministic)",
    )
    parser.add_argument("--config", type=Path, help="YAML config (command-line options win)")
    parser.add_argument(
        "--epochs", type=POSITIVE, help="default: planned from the measured step time (--minutes)"
    )
    parser.add_argument(
        "--steps-per-epoch",
        type=NON_NEGATIVE,
        help="default: planned (100); 0: one pass over the data",
    )
    parser.add_argument(
        "--batch-size", type=POSITIVE, help="default: planned from the patch and the machine"
    )
    parser.add_argument(
        "--patch-size",
        type=PATCH_SIDE,
        nargs="+",
        metavar="N",
        help="2 or 3 sides (default: planned to cover the median case)",
    )
    parser.add_argument(
        "--lr", type=float_in(0.0), help=f"default {TrainConfig.lr:g} (AdamW, cosine schedule)"
    )
    parser.add_argument("--seed", type=NON_NEGATIVE, help="default 0")
    parser.add_argument(
        "--members", type=POSITIVE, help=f"ensemble size (default {MethodConfig.members})"
    )
    parser.add_argument("--train-domains", type=csv_list, help="comma-separated domains")
    parser.add_argument("--val-domains", type=csv_list, help="comma-separated domains")
    parser.add_argument("--train-split", help="split used for training (default: train)")
    parser.add_argument("--val-split", help="split used for validation (default: val)")
    parser.add_argument("--label-map", help="raw mask value -> class, e.g. 0:0,255:1")
    parser.add_argument(
        "--class-names",
        type=csv_list,
        help="one per class, background first, e.g. background,lung (default: the layout's)",
    )
    parser.add_argument("--calibrate", action="store_true", help="fit a temperature on validation")
    parser.add_argument(
        "--calibration-data",
        help="in-distribution cases for the OOD reference (default: the validation cases)",
    )
    parser.add_argument(
        "--intensity-augment", help="none | standard | domain (domain-randomising transforms)"
    )
    parser.add_argument("--rater", help="annotators per training item: random | first | all")
    parser.add_argument("--devices", type=POSITIVE)
    parser.add_argument("--strategy", help="Lightning strategy, e.g. ddp")
    parser.add_argument(
        "--logger",
        type=csv_list,
        help="csv (always) plus tensorboard and/or mlflow, comma-separated",
    )
    parser.add_argument("--accelerator", help="auto (default: a GPU when there is one) | cpu | gpu")
    parser.add_argument(
        "--precision", help="auto (default: bf16/fp16 mixed where fast) | 32 | bf16 | 16"
    )
    add_plan_options(parser)
