"""The `seguq` argument parser: every command's options, with their ranges and defaults."""

from __future__ import annotations

import argparse
from pathlib import Path

from seguq.cli_options import (
    NON_NEGATIVE,
    PATCH_SIDE,
    POSITIVE,
    add_common,
    add_device,
    add_map_dtype,
    add_run_options,
    csv_list,
    float_in,
)
from seguq.errors import SeguqError


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line."""

    def error(self, message: str):  # type: ignore[override]
        raise SeguqError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    """The `seguq` argument parser."""
    parser = _Parser(prog="seguq", description="Uncertainty-aware medical image segmentation.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train a method on a data source (planned from it)")
    train.add_argument("--out", required=True, type=Path, help="run folder to create")
    add_run_options(train)
    train.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    train.add_argument(
        "--no-plan", action="store_true", help="train the config as given (nothing planned)"
    )
    add_common(train)

    plan = sub.add_parser("plan", help="print the plan for a data source (and why)")
    plan.add_argument("--out", type=Path, help="also write the planned config to this YAML file")
    add_run_options(plan)
    add_common(plan)

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
        "--maps",
        default="total",
        help="comma-separated: total,aleatoric,epistemic,variance, and feature (per-pixel "
        "feature distance to the training images: where the image is foreign)",
    )
    predict.add_argument(
        "--save-samples", type=NON_NEGATIVE, default=0, metavar="K", help="write K sampled masks"
    )
    predict.add_argument("--no-probs", action="store_true", help="do not write class probabilities")
    predict.add_argument("--float-format", default="npy", help="npy | tiff (2D inputs)")
    add_map_dtype(predict)
    predict.add_argument(
        "--format",
        default="seguq",
        choices=["seguq", "nnunet"],
        help="nnunet: probabilities also as nnU-Net's <id>.npz + <id>.pkl (default seguq)",
    )
    predict.add_argument(
        "--ood-alpha",
        type=float_in(0.0, 1.0),
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
    predict.add_argument("--split", type=csv_list, help="only these splits of the input")
    predict.add_argument("--domains", type=csv_list, help="only these domains of the input")
    predict.add_argument("--report", action="store_true", help="also write --out/report.html")
    predict.add_argument(
        "--seed", type=NON_NEGATIVE, default=0, help="random seed of the samples (default 0)"
    )
    add_device(predict)
    predict.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted prediction in --out (rerunning the same command does too)",
    )
    add_common(predict)

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
    add_map_dtype(nnunet)
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
        type=float_in(0.0, 1.0),
        default=0.05,
        help="flag a case when its conformal p-value is below this (default 0.05)",
    )
    add_common(nnunet)

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
        "--kinds", type=csv_list, default=["patch", "object"], help="patch,object (default both)"
    )
    regions.add_argument(
        "--fraction",
        type=float_in(0.0, 0.5),
        default=1 / 16,
        help="share of each image the content covers (default 1/16)",
    )
    regions.add_argument(
        "--limit", type=POSITIVE, default=20, help="at most N host cases, seeded (default 20)"
    )
    regions.add_argument("--split", type=csv_list, help="only these splits of the input")
    regions.add_argument("--domains", type=csv_list, help="only these domains of the input")
    regions.add_argument(
        "--per-level", action="store_true", help="hierarchical methods: each level's maps too"
    )
    regions.add_argument("--seed", type=NON_NEGATIVE, default=0)
    add_device(regions)
    add_common(regions)

    evaluate = sub.add_parser("evaluate", help="score a prediction folder against masks")
    evaluate.add_argument("--pred", required=True, type=Path)
    evaluate.add_argument("--data", required=True)
    evaluate.add_argument("--out", required=True, type=Path, help="JSON file (CSV written beside)")
    evaluate.add_argument("--split", type=csv_list)
    evaluate.add_argument("--domains", type=csv_list)
    evaluate.add_argument("--label-map")
    evaluate.add_argument(
        "--failure-dice",
        type=float_in(0.0, 1.0),
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
    add_common(evaluate)

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
        help="lodo: names, or name:key=value,... variants (e.g. pixelwise:augment=domain; "
        "default: deterministic)",
    )
    bench.add_argument("--seeds", type=POSITIVE, help="lodo: training seeds (default: 3)")
    bench.add_argument("--out", required=True, type=Path)
    bench.add_argument("--config", type=Path, help="YAML base config for every run")
    bench.add_argument("--epochs", type=POSITIVE)
    bench.add_argument("--steps-per-epoch", type=NON_NEGATIVE)
    bench.add_argument("--patch-size", type=PATCH_SIDE, nargs=2, metavar=("H", "W"))
    bench.add_argument("--batch-size", type=POSITIVE)
    bench.add_argument("--domains", type=csv_list, help="domains taking part (default: all)")
    bench.add_argument("--hold-out", type=csv_list, help="run only these folds (held-out domains)")
    bench.add_argument(
        "--test-split",
        help="lodo: held-out domain's split to test ('all': every labelled case; default: test)",
    )
    bench.add_argument("--label-map")
    bench.add_argument(
        "--class-names",
        type=csv_list,
        help="lodo: one per class, background first (default: the layout's, else class1, ...)",
    )
    bench.add_argument("--device", help="auto (default) | cpu | cuda: training and prediction")
    bench.add_argument("--precision", help="auto (default) | 32 | bf16 | 16")
    bench.add_argument(
        "--devices", type=POSITIVE, help="devices per training (each one a `seguq train` run)"
    )
    bench.add_argument("--strategy", help="Lightning strategy of each training, e.g. ddp")
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
    add_common(bench)

    demo = sub.add_parser("demo", help="synthetic data -> train -> predict -> evaluate")
    demo.add_argument("--out", type=Path, default=Path("seguq-demo"))
    demo.add_argument("--epochs", type=POSITIVE)
    demo.add_argument("--method", default="deterministic")
    demo.add_argument("--report", action="store_true", help="also write --out/report.html")
    add_common(demo)

    export = sub.add_parser("export", help="export a trained model (ONNX)")
    export.add_argument("--model", required=True, type=Path, help="run folder or checkpoint")
    export.add_argument("--format", default="onnx", choices=["onnx"])
    export.add_argument("--out", required=True, type=Path, help="the .onnx file")
    export.add_argument(
        "--samples",
        type=POSITIVE,
        help="also write <out>.samples.onnx: S samples, the random numbers as inputs",
    )
    add_common(export)

    report = sub.add_parser("report", help="HTML report of a benchmark, demo or prediction folder")
    report.add_argument("folder", type=Path, help="benchmark, demo or prediction folder")
    report.add_argument("--out", type=Path, help="HTML file (default: FOLDER/report.html)")
    report.add_argument("--evaluation", type=Path, help="evaluation JSON of a prediction folder")
    report.add_argument(
        "--max-cases", type=NON_NEGATIVE, default=4, help="cases shown with figures"
    )
    add_common(report)
    return parser
