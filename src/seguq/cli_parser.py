"""The `seguq` argument parser: every command's options, with their ranges and defaults."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from seguq.config import MethodConfig, TrainConfig
from seguq.errors import SeguqError


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line."""

    def error(self, message: str):  # type: ignore[override]
        raise SeguqError(f"{self.prog}: {message}")


def _method_names() -> list[str]:
    from seguq.methods.base import method_names

    return method_names()


def _csv_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _int_at_least(low: int):
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


def _float_in(low: float, high: float | None = None, *, closed_low: bool = False):
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


POSITIVE = _int_at_least(1)
NON_NEGATIVE = _int_at_least(0)
PATCH_SIDE = _int_at_least(8)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=POSITIVE,
        help="torch CPU threads (default: the physical cores not busy with other work)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", default="auto", help="auto (a GPU when there is one) | cpu | cuda[:N]"
    )
    parser.add_argument(
        "--precision", default="auto", help="auto (bf16/fp16 mixed where fast) | 32 | bf16 | 16"
    )


def _add_map_dtype(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--map-dtype",
        default="float16",
        choices=["float16", "float32"],
        help="float type of the maps and probabilities of 2D inputs (NIfTI: always float32;"
        " default float16)",
    )


def _add_plan_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dims", type=int, choices=(2, 3), help="2 (slices of volumes) or 3 (a 3D network)"
    )
    parser.add_argument(
        "--patience", type=NON_NEGATIVE, help="early stopping after N epochs without progress"
    )
    parser.add_argument(
        "--minutes",
        type=_float_in(0.0),
        default=25.0,
        help="training time the plan sizes its budget to (default 25)",
    )


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options `train` and `plan` share: what to train on and how."""
    parser.add_argument(
        "--data", help="CSV manifest, data folder, or 'synthetic' (not needed with --resume)"
    )
    parser.add_argument(
        "--method",
        help=f"{' | '.join(_method_names())} (default deterministic)",
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
        "--lr", type=_float_in(0.0), help=f"default {TrainConfig.lr:g} (AdamW, cosine schedule)"
    )
    parser.add_argument("--seed", type=NON_NEGATIVE, help="default 0")
    parser.add_argument(
        "--members", type=POSITIVE, help=f"ensemble size (default {MethodConfig.members})"
    )
    parser.add_argument("--train-domains", type=_csv_list, help="comma-separated domains")
    parser.add_argument("--val-domains", type=_csv_list, help="comma-separated domains")
    parser.add_argument("--train-split", help="split used for training (default: train)")
    parser.add_argument("--val-split", help="split used for validation (default: val)")
    parser.add_argument("--label-map", help="raw mask value -> class, e.g. 0:0,255:1")
    parser.add_argument(
        "--class-names",
        type=_csv_list,
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
        type=_csv_list,
        help="csv (always) plus tensorboard and/or mlflow, comma-separated",
    )
    parser.add_argument("--accelerator", help="auto (default: a GPU when there is one) | cpu | gpu")
    parser.add_argument(
        "--precision", help="auto (default: bf16/fp16 mixed where fast) | 32 | bf16 | 16"
    )
    _add_plan_options(parser)


def build_parser() -> argparse.ArgumentParser:
    """The `seguq` argument parser."""
    parser = _Parser(prog="seguq", description="Uncertainty-aware medical image segmentation.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train a method on a data source (planned from it)")
    train.add_argument("--out", required=True, type=Path, help="run folder to create")
    _add_run_options(train)
    train.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    train.add_argument(
        "--no-plan", action="store_true", help="train the config as given (nothing planned)"
    )
    _add_common(train)

    plan = sub.add_parser("plan", help="print the plan for a data source (and why)")
    plan.add_argument("--out", type=Path, help="also write the planned config to this YAML file")
    _add_run_options(plan)
    _add_common(plan)

    predict = sub.add_parser("predict", help="predict masks, probabilities and uncertainty")
    predict.add_argument("--model", required=True, type=Path, help="run folder or checkpoint")
    predict.add_argument("--input", required=True, help="image file, folder, manifest or layout")
    predict.add_argument("--out", required=True, type=Path)
    predict.add_argument(
        "--samples",
        type=POSITIVE,
        help="samples S (default: 1 deterministic/pixelwise, members ensemble, flips tta, else 16)",
    )
    predict.add_argument(
        "--maps", default="total", help="comma-separated: total,aleatoric,epistemic,variance"
    )
    predict.add_argument(
        "--save-samples", type=NON_NEGATIVE, default=0, metavar="K", help="write K sampled masks"
    )
    predict.add_argument("--no-probs", action="store_true", help="do not write class probabilities")
    predict.add_argument("--float-format", default="npy", help="npy | tiff (2D inputs)")
    _add_map_dtype(predict)
    predict.add_argument(
        "--format",
        default="seguq",
        choices=["seguq", "nnunet"],
        help="nnunet: probabilities also as nnU-Net's <id>.npz + <id>.pkl (default seguq)",
    )
    predict.add_argument(
        "--ood-alpha",
        type=_float_in(0.0, 1.0),
        help="flag a case when its conformal p-value is below this (default 0.05)",
    )
    predict.add_argument(
        "--calibration-data",
        help="in-distribution cases whose scores the p-values use (default: the run's validation)",
    )
    predict.add_argument(
        "--per-level",
        action="store_true",
        help="hierarchical methods (hue, phiseg): maps per level",
    )
    predict.add_argument("--split", type=_csv_list, help="only these splits of the input")
    predict.add_argument("--domains", type=_csv_list, help="only these domains of the input")
    predict.add_argument("--report", action="store_true", help="also write --out/report.html")
    predict.add_argument(
        "--seed", type=NON_NEGATIVE, default=0, help="random seed of the samples (default 0)"
    )
    _add_device(predict)
    predict.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted prediction in --out (rerunning the same command does too)",
    )
    _add_common(predict)

    nnunet = sub.add_parser(
        "from-nnunet", help="uncertainty maps and OOD scores from an nnU-Net ensemble's folds"
    )
    nnunet.add_argument(
        "--folds",
        required=True,
        nargs="+",
        type=Path,
        help="nnUNetv2_predict --save_probabilities output folders, one per fold",
    )
    nnunet.add_argument("--images", required=True, help="the images they were predicted from")
    nnunet.add_argument("--out", required=True, type=Path, help="the prediction folder to write")
    nnunet.add_argument(
        "--maps", default="total", help="comma-separated: total,aleatoric,epistemic,variance"
    )
    nnunet.add_argument("--no-probs", action="store_true", help="do not write class probabilities")
    nnunet.add_argument("--float-format", default="npy", help="npy | tiff (2D inputs)")
    _add_map_dtype(nnunet)
    nnunet.add_argument(
        "--reference",
        nargs="+",
        type=Path,
        default=[],
        help="in-distribution predictions for the OOD p-values (e.g. fold_*/validation)",
    )
    nnunet.add_argument("--reference-images", help="their images (default: --images)")
    nnunet.add_argument(
        "--ood-alpha",
        type=_float_in(0.0, 1.0),
        default=0.05,
        help="flag a case when its conformal p-value is below this (default 0.05)",
    )
    _add_common(nnunet)

    regions = sub.add_parser(
        "ood-regions",
        help="insert foreign content into images and score how well the maps find it",
    )
    regions.add_argument("--model", required=True, type=Path, help="run folder or checkpoint")
    regions.add_argument("--input", required=True, help="in-distribution 2D images (a source)")
    regions.add_argument(
        "--donors", required=True, help="images of another modality, cut into the patches"
    )
    regions.add_argument("--out", required=True, type=Path)
    regions.add_argument(
        "--kinds", type=_csv_list, default=["patch", "object"], help="patch,object (default both)"
    )
    regions.add_argument(
        "--fraction",
        type=_float_in(0.0, 0.5),
        default=1 / 16,
        help="share of each image the content covers (default 1/16)",
    )
    regions.add_argument(
        "--limit", type=POSITIVE, default=20, help="at most N host cases, seeded (default 20)"
    )
    regions.add_argument("--split", type=_csv_list, help="only these splits of the input")
    regions.add_argument("--domains", type=_csv_list, help="only these domains of the input")
    regions.add_argument(
        "--per-level", action="store_true", help="hierarchical methods: each level's maps too"
    )
    regions.add_argument("--seed", type=NON_NEGATIVE, default=0)
    _add_device(regions)
    _add_common(regions)

    evaluate = sub.add_parser("evaluate", help="score a prediction folder against masks")
    evaluate.add_argument("--pred", required=True, type=Path)
    evaluate.add_argument("--data", required=True)
    evaluate.add_argument("--out", required=True, type=Path, help="JSON file (CSV written beside)")
    evaluate.add_argument("--split", type=_csv_list)
    evaluate.add_argument("--domains", type=_csv_list)
    evaluate.add_argument("--label-map")
    evaluate.add_argument(
        "--failure-dice",
        type=_float_in(0.0, 1.0),
        default=0.7,
        help="a case with Dice below this has failed (failure detection; default 0.7)",
    )
    evaluate.add_argument("--ood-data", help="prediction folder or source of OOD images")
    evaluate.add_argument(
        "--ood-limit",
        type=POSITIVE,
        metavar="N",
        help="predict only N of the --ood-data source's cases (a seeded subset)",
    )
    evaluate.add_argument(
        "--device", default="auto", help="for --ood-data sources: auto | cpu | cuda[:N]"
    )
    _add_common(evaluate)

    bench = sub.add_parser("benchmark", help="run a benchmark protocol (YAML file, or lodo)")
    bench.add_argument(
        "protocol", help="a protocol YAML file (benchmarks/configs/), or 'lodo' with --data"
    )
    bench.add_argument("--data-root", type=Path, help="YAML protocol: overrides its data_root")
    bench.add_argument("--no-report", action="store_true", help="YAML protocol: no report.html")
    bench.add_argument("--data", help="data source with several domains")
    bench.add_argument(
        "--methods",
        nargs="+",
        default=["deterministic"],
        help="names, or name:key=value,... variants (e.g. pixelwise:augment=domain)",
    )
    bench.add_argument("--seeds", type=POSITIVE, default=3)
    bench.add_argument("--out", required=True, type=Path)
    bench.add_argument("--config", type=Path, help="YAML base config for every run")
    bench.add_argument("--epochs", type=POSITIVE)
    bench.add_argument("--steps-per-epoch", type=NON_NEGATIVE)
    bench.add_argument("--patch-size", type=PATCH_SIDE, nargs=2, metavar=("H", "W"))
    bench.add_argument("--batch-size", type=POSITIVE)
    bench.add_argument("--domains", type=_csv_list, help="domains taking part (default: all)")
    bench.add_argument("--hold-out", type=_csv_list, help="run only these folds (held-out domains)")
    bench.add_argument(
        "--test-split",
        default="test",
        help="held-out domain's split to test ('all': every labelled case)",
    )
    bench.add_argument("--label-map")
    bench.add_argument("--device", help="auto (default) | cpu | cuda: training and prediction")
    bench.add_argument("--precision", help="auto (default) | 32 | bf16 | 16")
    bench.add_argument(
        "--jobs",
        type=POSITIVE,
        default=1,
        help="YAML protocol: (method, seed) runs at once, in processes sharing the CPU threads",
    )
    bench.add_argument(
        "--launcher",
        default="processes",
        choices=["processes", "slurm", "submitit-local"],
        help="YAML protocol: where the runs go: processes here (default), SLURM jobs through"
        " submitit (pip install -e '.[cluster]'), or submitit's local executor",
    )
    bench.add_argument("--slurm-partition", default="", help="--launcher slurm: the partition")
    bench.add_argument(
        "--slurm-timeout", type=POSITIVE, default=720, help="--launcher slurm: minutes per job"
    )
    bench.add_argument(
        "--slurm-gpus", type=NON_NEGATIVE, default=0, help="--launcher slurm: GPUs per job"
    )
    _add_common(bench)

    demo = sub.add_parser("demo", help="synthetic data -> train -> predict -> evaluate")
    demo.add_argument("--out", type=Path, default=Path("seguq-demo"))
    demo.add_argument("--epochs", type=POSITIVE)
    demo.add_argument("--method", default="deterministic")
    demo.add_argument("--report", action="store_true", help="also write --out/report.html")
    _add_common(demo)

    export = sub.add_parser("export", help="export a trained model (ONNX)")
    export.add_argument("--model", required=True, type=Path, help="run folder or checkpoint")
    export.add_argument("--format", default="onnx", choices=["onnx"])
    export.add_argument("--out", required=True, type=Path, help="the .onnx file")
    export.add_argument(
        "--samples",
        type=POSITIVE,
        help="also write <out>.samples.onnx: S samples, the random numbers as inputs",
    )
    _add_common(export)

    report = sub.add_parser("report", help="HTML report of a benchmark, demo or prediction folder")
    report.add_argument("folder", type=Path, help="benchmark, demo or prediction folder")
    report.add_argument("--out", type=Path, help="HTML file (default: FOLDER/report.html)")
    report.add_argument("--evaluation", type=Path, help="evaluation JSON of a prediction folder")
    report.add_argument(
        "--max-cases", type=NON_NEGATIVE, default=4, help="cases shown with figures"
    )
    _add_common(report)
    return parser
