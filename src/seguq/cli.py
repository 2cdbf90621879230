"""The command line: parse, call one engine function, print where the results went.

Errors caused by input (SeguqError) are printed as one line, without a traceback (`--debug` shows
it), and the exit status is 2.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from seguq.cli_parser import build_parser
from seguq.errors import SeguqError


def _train_overrides(args: argparse.Namespace) -> dict:
    from seguq.data.sources import parse_label_map

    data = {
        "source": args.data,
        "train_domains": args.train_domains,
        "val_domains": args.val_domains,
        "train_split": args.train_split,
        "val_split": args.val_split,
        "batch_size": args.batch_size,
        "patch_size": list(args.patch_size) if args.patch_size else None,
        "label_map": parse_label_map(args.label_map) if args.label_map else None,
        "class_names": args.class_names,
        "intensity_augment": args.intensity_augment,
        "rater": args.rater,
        "dims": args.dims,
        "calibration_source": args.calibration_data,
    }
    method = {"name": args.method, "members": args.members, "calibrate": args.calibrate or None}
    train = {
        "epochs": args.epochs,
        "steps_per_epoch": args.steps_per_epoch,
        "lr": args.lr,
        "seed": args.seed,
        "devices": args.devices,
        "strategy": args.strategy,
        "accelerator": args.accelerator,
        "precision": args.precision,
        "threads": args.threads,
        "patience": args.patience,
        "loggers": args.logger,
        "progress": False if args.no_progress else None,
    }
    sections = {"data": data, "method": method, "train": train}
    return {
        name: {k: v for k, v in values.items() if v is not None}
        for name, values in sections.items()
    }


def _budget_overrides(args: argparse.Namespace) -> dict:
    """`seguq benchmark`'s run-config options that were given, as nested overrides."""
    from seguq.data.sources import parse_label_map
    from seguq.devices import accelerator_for

    overrides = {
        "data": {
            "batch_size": args.batch_size,
            "patch_size": list(args.patch_size) if args.patch_size else None,
            "label_map": parse_label_map(args.label_map) if args.label_map else None,
            "class_names": args.class_names,
        },
        "train": {
            "epochs": args.epochs,
            "steps_per_epoch": args.steps_per_epoch,
            "threads": args.threads,
            "precision": args.precision,
            "accelerator": accelerator_for(args.device) if args.device else None,
            "devices": args.devices,
            "strategy": args.strategy,
        },
    }
    overrides = {k: {n: v for n, v in d.items() if v is not None} for k, d in overrides.items()}
    return {k: v for k, v in overrides.items() if v}


def _protect_config(args: argparse.Namespace) -> None:
    """`--overwrite` never replaces the output folder that holds the `--config` it reads."""
    if args.overwrite and args.config is not None:
        from seguq.engine.output_folder import check_not_holding

        check_not_holding(args.out, [("the --config file", Path(args.config))])


def _benchmark(args: argparse.Namespace) -> None:
    from seguq.benchmark.lodo import run_lodo
    from seguq.benchmark.variants import parse_variants
    from seguq.config import load_config

    if args.protocol != "lodo":
        from seguq.benchmark.cli import benchmark_protocol

        benchmark_protocol(args, _budget_overrides(args))
        return
    if not args.data:
        raise SeguqError("benchmark lodo: --data is required")
    if args.jobs > 1 or args.launcher != "processes":
        raise SeguqError(
            "benchmark lodo: --jobs and --launcher are for YAML protocols (lodo runs one fold"
            " at a time)"
        )
    seeds = 3 if args.seeds is None else args.seeds
    if seeds < 1:
        raise SeguqError(f"--seeds: expected a positive number, got {seeds}")
    _protect_config(args)
    base = load_config(args.config, _budget_overrides(args))
    variants = parse_variants(args.methods or ["deterministic"])
    results = run_lodo(
        args.data,
        variants,
        args.out,
        base=base,
        seeds=seeds,
        domains=args.domains,
        hold_out=args.hold_out,
        test_split=args.test_split or "test",
        overwrite=args.overwrite,
        progress=not args.no_progress,
        command=shlex.join(["seguq", *sys.argv[1:]]),
    )
    for label, entry in results["methods"].items():
        dice = entry["average"]["dice"]["mean"]
        print(f"{label}: unseen-domain Dice {dice['mean']:.4f} ± {dice['std']:.4f}")
    tables = ", ".join(
        str(args.out / name) for name in ("results.md", "results.csv", "results.json")
    )
    print(f"tables: {tables}")


def _config_names_data(path: Path | None) -> bool:
    """True when a (valid) YAML config file sets data.source."""
    import yaml

    if path is None:
        return False
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return bool((raw.get("data") or {}).get("source"))


def _train(args: argparse.Namespace) -> None:
    from seguq.config import RunConfig, load_config, merge_nested, read_config_file
    from seguq.engine.run_folder import is_worker_process
    from seguq.engine.train import train

    if args.resume and args.overwrite:
        raise SeguqError("train: --resume and --overwrite exclude each other")
    saved = args.out / "config.yaml"
    plan = None
    if (args.resume or is_worker_process()) and args.config is None and saved.is_file():
        # A resumed run (and every DDP worker) starts from the run's own config; options
        # given again must agree with it.
        config = load_config(saved, _train_overrides(args))
    else:
        user = merge_nested(read_config_file(args.config), _train_overrides(args))
        if not (user.get("data") or {}).get("source"):
            raise SeguqError("train: --data is required (a manifest, a data folder or 'synthetic')")
        if args.no_plan:
            config = RunConfig.from_dict(user)
        else:
            config, plan = _plan(user, args)
    _protect_config(args)
    result = train(config, args.out, overwrite=args.overwrite, resume=args.resume, plan=plan)
    if is_worker_process():
        return
    if result.label_map_note and not args.resume:
        pairs = ", ".join(f"{raw}->{index}" for raw, index in config.data.label_map.items())
        print(f"label map: {pairs} ({result.label_map_note}; saved in config.yaml)")
    print(
        f"trained {config.method.name}: best val Dice {result.val_dice:.4f} "
        f"in {result.seconds:.0f} s -> {result.run_dir}"
    )


def _plan(user: dict, args: argparse.Namespace, *, quiet: bool = False):
    """Plan the run from the data and this machine, printing one line per decision."""
    from seguq.plan import plan_run
    from seguq.plan.planner import machine_for

    machine = machine_for(user, args.minutes)
    config, plan = plan_run(user, machine=machine)
    if not quiet:
        print(f"plan ({machine.device}, {machine.threads} threads, {args.minutes:g} minutes):")
        for line in plan.lines():
            print(f"  {line}")
    return config, plan


def _check_plan_target(out: Path, source: str | None, overwrite: bool) -> None:
    """`plan --out` never replaces its input config, nor an existing file without --overwrite."""
    if out.is_dir():
        raise SeguqError(f"plan --out {out}: is a folder (give the YAML file to write)")
    if source and out.exists() and out.resolve() == Path(source).resolve():
        raise SeguqError(f"plan --out {out}: is the input --config (write the plan elsewhere)")
    if out.exists() and not overwrite:
        raise SeguqError(f"plan --out {out}: exists (add --overwrite to replace it)")


def _plan_command(args: argparse.Namespace) -> None:
    from seguq.config import merge_nested, read_config_file

    if args.out:
        _check_plan_target(Path(args.out), args.config, args.overwrite)
    user = merge_nested(read_config_file(args.config), _train_overrides(args))
    config, plan = _plan(user, args)
    if args.out:
        from seguq.config import save_config

        save_config(config, args.out)
        print(f"config: {args.out}")


def _run(args: argparse.Namespace) -> int:
    if args.command not in ("train", "benchmark"):  # those two pass it to every training
        from seguq.devices import set_threads

        set_threads(args.threads)
    if args.command == "train":
        _train(args)
    elif args.command == "plan":
        _plan_command(args)
    elif args.command == "predict":
        from seguq.engine.predict import predict

        if args.resume and args.overwrite:
            raise SeguqError("predict: --resume and --overwrite exclude each other")
        result = predict(
            args.model,
            args.input,
            args.out,
            samples=args.samples,
            maps=args.maps,
            save_probs=not args.no_probs,
            save_samples=args.save_samples,
            float_format=args.float_format,
            map_dtype=args.map_dtype,
            output_format=args.format,
            ood_alpha=args.ood_alpha,
            calibration_data=args.calibration_data,
            splits=args.split,
            domains=args.domains,
            per_level=args.per_level,
            seed=args.seed,
            threads=args.threads,
            device=args.device,
            precision=args.precision,
            overwrite=args.overwrite,
            resume=args.resume,
            progress=not args.no_progress,
        )
        print(f"predicted {result.cases} cases -> {result.out_dir} (scores: {result.scores_csv})")
        if args.report:
            from seguq.report import write_report

            print(f"report: {write_report(result.out_dir, overwrite=args.overwrite)}")
    elif args.command == "from-nnunet":
        from seguq.engine.from_nnunet import from_nnunet

        result = from_nnunet(
            args.folds,
            args.images,
            args.out,
            maps=args.maps,
            save_probs=not args.no_probs,
            float_format=args.float_format,
            map_dtype=args.map_dtype,
            reference=args.reference,
            reference_images=args.reference_images,
            ood_alpha=args.ood_alpha,
            overwrite=args.overwrite,
            progress=not args.no_progress,
        )
        print(f"wrote {result.cases} cases -> {result.out_dir} (scores: {result.scores_csv})")
    elif args.command == "ood-regions":
        from seguq.engine.ood_regions import ood_regions, summary_lines

        result = ood_regions(
            args.model,
            args.input,
            args.donors,
            args.out,
            splits=args.split,
            domains=args.domains,
            kinds=args.kinds,
            fraction=args.fraction,
            limit=args.limit,
            per_level=args.per_level,
            seed=args.seed,
            threads=args.threads,
            device=args.device,
            precision=args.precision,
            overwrite=args.overwrite,
            progress=not args.no_progress,
        )
        print(f"{result['cases']} altered images; pixel detection of the inserted content:")
        for line in summary_lines(result):
            print("  " + line)
        print(f"-> {args.out / 'regions.json'}")
    elif args.command == "evaluate":
        from seguq.data.sources import parse_label_map
        from seguq.engine.evaluate import evaluate

        label_map = parse_label_map(args.label_map) if args.label_map else None
        result = evaluate(
            args.pred,
            args.data,
            args.out,
            splits=args.split,
            domains=args.domains,
            label_map=label_map,
            ood_data=args.ood_data,
            ood_limit=args.ood_limit,
            device=args.device,
            failure_dice=args.failure_dice,
            overwrite=args.overwrite,
            progress=not args.no_progress,
        )
        print(
            f"evaluated {result['cases']} cases: "
            f"mean Dice {result['segmentation']['mean_dice']:.4f}"
            f" -> {args.out} and {args.out.with_suffix('.csv')}"
        )
    elif args.command == "benchmark":
        _benchmark(args)
    elif args.command == "demo":
        from seguq.engine.demo import run_demo

        summary = run_demo(
            args.out,
            epochs=args.epochs,
            method=args.method,
            overwrite=args.overwrite,
            progress=not args.no_progress,
            report=args.report,
        )
        print(
            f"demo: Dice in-domain {summary['dice_in_domain']:.3f}, unseen domain "
            f"{summary['dice_unseen_domain']:.3f} (1 = perfect), in {summary['seconds']:.0f} s"
        )
        print(
            f"calibration error (ECE, 0 = calibrated) in-domain "
            f"{summary['ece_in_domain_before_calibration']:.3f} before temperature scaling, "
            f"{summary['ece_in_domain']:.3f} after (T = {summary['temperature']:.2f}); "
            f"OOD AUROC {summary['ood_auroc']:.3f} (0.5 = chance)"
        )
        print(f"summary: {summary['paths']['summary']}")
        if args.report:
            print(f"report: {summary['paths']['report']}")
    elif args.command == "export":
        from seguq.export import export_onnx

        paths = export_onnx(args.model, args.out, samples=args.samples, overwrite=args.overwrite)
        print("exported: " + ", ".join(str(p) for p in paths))
    elif args.command == "report":
        from seguq.report import write_report

        out = write_report(
            args.folder,
            args.out,
            evaluation=args.evaluation,
            overwrite=args.overwrite,
            max_cases=args.max_cases,
        )
        print(f"report: {out} (figures in {out.parent / 'figures'})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `seguq` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    logging.basicConfig(level=logging.INFO if debug else logging.WARNING, format="%(message)s")
    if not debug:
        from seguq.engine.quiet import quiet_lightning

        quiet_lightning()
    try:
        args = build_parser().parse_args(argv)
        return _run(args)
    except SeguqError as error:
        if debug:
            raise
        print(f"seguq: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("seguq: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
