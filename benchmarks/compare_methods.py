"""Train several seguq methods on the same data with the same budget and compare them (benchmark).

For each method: train (timed), predict the in-distribution test set with the total and epistemic
maps (timed), evaluate it (Dice per class, ECE, Brier, NLL, pixel error-detection AUROC, AURC),
predict each shifted, far-OOD and corrupted set (scores only where no masks are needed) and compare
the image scores with those of the test set (`seguq.metrics.ood.ood_scores`). When the test cases
have several annotators, the test set is predicted with saved samples and scored for ambiguity
(GED, HM-IoU, NCC, sample diversity). Only seguq's Python API is used.

    python benchmarks/compare_methods.py --preset cxr --epochs 15 --steps-per-epoch 20
    python benchmarks/compare_methods.py --preset synthetic --methods hue,hue:beta=0.001

Images are resized (`--size`) into a prepared copy outside the repository, reused when complete;
finished runs and prediction folders are reused too, so an interrupted benchmark resumes. Results go
to OUT/results.json and OUT/results.md; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import re
import shlex
import sys
import time
import warnings
from pathlib import Path

import torch
from _presets import PRESETS, SOURCES
from _report import (
    OOD_ROLES,
    ambiguity_table,
    bootstrap_ood,
    bootstrap_table,
    header,
    is_set,
    markdown_table,
)

from seguq.benchmark.corruptions import CORRUPTIONS, corrupt_subset
from seguq.benchmark.prepare import annotator_columns, prepare_source, write_subset
from seguq.benchmark.stages import (
    evaluate_set,
    predict_set,
    sample_count,
    sample_diversity,
    train_method,
)
from seguq.benchmark.variants import Variant, parse_variants
from seguq.config import RunConfig, load_config
from seguq.engine.evaluate import json_safe, read_scores
from seguq.errors import SeguqError
from seguq.machine_info import describe_machine as machine
from seguq.methods import method_names
from seguq.metrics.ood import ood_scores

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = REPO.parent / "shared" / "data"
METHODS = ("deterministic", "mc_dropout", "ensemble", "tta")
MAPS = ["total", "epistemic"]


def say(message: str) -> None:
    print(f"[compare {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cxr")
    parser.add_argument(
        "--methods",
        nargs="+",
        default=[",".join(METHODS)],
        help="comma list of methods or variants name[:key=value,...], e.g. "
        "deterministic,hue,hue:beta=0.001 (an item without ':' after a variant is a method)",
    )
    parser.add_argument("--size", type=int, default=256, help="images resized to size x size")
    parser.add_argument("--members", type=int, default=5, help="ensemble size")
    parser.add_argument(
        "--corruptions",
        default=None,
        help=f"corrupted copies of the test images, comma list of {','.join(CORRUPTIONS)} or "
        "'none' (default: the preset's; blur,noise,patch for cxr)",
    )
    parser.add_argument(
        "--max-corrupt", type=int, default=None, help="cap the test images that are corrupted"
    )
    parser.add_argument(
        "--ambiguity-samples",
        type=int,
        default=16,
        help="samples saved per test case when the test data has >= 2 annotators",
    )
    parser.add_argument(
        "--report", default="results", help="name of the OUT/<report>.json and .md files"
    )
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--steps-per-epoch", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--patch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=None, help="S (default: each method's)")
    parser.add_argument("--max-test", type=int, default=None, help="cap test/shifted cases")
    parser.add_argument("--max-ood", type=int, default=None, help="cap far-OOD cases")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads (0: torch's default, all cores)"
    )
    parser.add_argument("--data-root", type=Path, default=DATA_ROOT)
    parser.add_argument("--work", type=Path, default=None, help="prepared data folder")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        args.variants = parse_variants(split_methods(args.methods))
    except SeguqError as error:
        parser.error(str(error))
    unknown = [v.method for v in args.variants if v.method not in method_names()]
    if unknown:
        parser.error(f"--methods: unknown {unknown} (known: {', '.join(method_names())})")
    folders = [safe_name(v.label) for v in args.variants]
    if len(set(folders)) != len(folders):
        parser.error(f"--methods: two variants map to the same folder name ({folders})")
    if args.corruptions is None:
        args.corruptions = list(PRESETS[args.preset]["corruptions"])
    else:
        names = [c.strip() for c in args.corruptions.split(",") if c.strip()]
        args.corruptions = [] if names == ["none"] else names
    bad = [c for c in args.corruptions if c not in CORRUPTIONS]
    if bad:
        parser.error(f"--corruptions: unknown {bad} (known: {', '.join(CORRUPTIONS)}, none)")
    resized = PRESETS[args.preset].get("resized", True)
    default_work = f"{args.preset}-{args.size}" if resized else args.preset
    args.work = args.work or Path(f"/tmp/seguq-bench/prepared/{default_work}")
    args.out = args.out or Path(f"/tmp/seguq-bench/{args.preset}")
    if args.out.resolve().is_relative_to(REPO):
        parser.error(f"--out {args.out}: inside the repository; results hold derived data")
    return args


def split_methods(items: list[str]) -> list[str]:
    """Command-line items for `parse_variants`: comma lists split into methods and variants.

    "deterministic,hue:beta=0.1,warmup_steps=10,tta" gives ["deterministic",
    "hue:beta=0.1,warmup_steps=10", "tta"]: a piece with '=' but no ':' continues the options of
    the variant before it.
    """
    result: list[str] = []
    for item in items:
        for piece in (p.strip() for p in item.split(",")):
            if not piece:
                continue
            if "=" in piece and ":" not in piece and result and ":" in result[-1]:
                result[-1] += "," + piece
            else:
                result.append(piece)
    return result


def safe_name(label: str) -> str:
    """A folder name for a variant label: `hue:beta=0.001` -> `hue__beta-0.001`."""
    name = label.replace(":", "__").replace("=", "-").replace(",", "_")
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)


def prepare_sets(args: argparse.Namespace, preset: dict) -> tuple[Path, dict[str, dict]]:
    """The prepared training manifest and every evaluation set as a subset manifest."""
    needed = {preset["train"]["source"], preset["test"]["source"]}
    needed |= {s["source"] for group in ("shifted", *OOD_ROLES) for s in preset[group].values()}
    prepared = {}
    for name in sorted(needed):
        at = f"at {args.size}x{args.size} " if preset.get("resized", True) else ""
        say(f"prepare {name} {at}under {args.work}")
        prepared[name] = prepare_source(
            name, SOURCES[name], args.data_root, args.work, args.size, REPO
        )
    sets: dict[str, dict] = {}
    groups = [("test", {"test": preset["test"]}), ("shifted", preset["shifted"])]
    groups += [("far_ood", preset["far_ood"]), ("corrupt", preset["corrupt"])]
    for role, members in groups:
        limit = args.max_ood if role in OOD_ROLES else args.max_test
        for name, spec in members.items():
            csv_path = args.out / "sets" / f"{name}.csv"
            ids = write_subset(
                prepared[spec["source"]],
                csv_path,
                splits=spec.get("splits"),
                domains=spec.get("domains"),
                limit=limit,
                seed=args.seed,
            )
            sets[name] = {"role": role, "csv": csv_path, "ids": ids}
    for kind in args.corruptions:
        # Corrupted copies of the (possibly capped) test cases, written under the work folder.
        name = f"corrupt_{kind}"
        say(f"prepare {name} from the test images under {args.work}")
        corrupted = corrupt_subset(
            sets["test"]["csv"],
            args.work / "corrupted" / f"{args.preset}-{name}",
            kind,
            limit=args.max_corrupt,
            seed=args.seed,
            repo=REPO,
        )
        csv_path = args.out / "sets" / f"{name}.csv"
        ids = write_subset(corrupted, csv_path)
        sets[name] = {"role": "corrupt", "csv": csv_path, "ids": ids}
    sets["test"]["annotators"] = annotator_columns(sets["test"]["csv"])
    return prepared[preset["train"]["source"]], sets


def make_config(
    args: argparse.Namespace, preset: dict, variant: Variant, manifest: Path
) -> RunConfig:
    config = RunConfig()
    config.data.source = str(manifest)
    config.data.train_split = preset["train"]["split"]
    config.data.train_domains = list(preset["train"].get("domains", []))
    config.data.val_domains = list(preset["train"].get("val_domains", []))
    config.data.class_names = list(preset["class_names"])
    config.data.patch_size = [args.patch_size, args.patch_size]
    config.data.batch_size = args.batch_size
    config.method.members = args.members
    config.train.epochs = args.epochs
    config.train.steps_per_epoch = args.steps_per_epoch
    config.train.seed = args.seed
    config.train.progress = False
    return variant.apply(config)


def run_method(
    variant: Variant, args: argparse.Namespace, preset: dict, manifest: Path, sets: dict
) -> dict:
    name, folder = variant.label, safe_name(variant.label)
    run_dir = args.out / "runs" / folder
    config = make_config(args, preset, variant, manifest)
    row: dict = {
        "method": name,
        "base_method": variant.method,
        "options": dict(variant.options),
        "train": train_method(config, run_dir, name, say),
    }
    label_map = load_config(run_dir / "config.yaml").data.label_map
    num_classes = len(preset["class_names"])
    test_scores: list[float] = []
    for set_name, info in sets.items():
        pred_dir = args.out / "predictions" / folder / set_name
        full = info["role"] not in OOD_ROLES
        ambiguous = info["role"] == "test" and len(info.get("annotators", [])) >= 2
        save = args.ambiguity_samples if ambiguous else 0
        say(f"predict {name} on {set_name} ({len(info['ids'])} cases)")
        timing = predict_set(
            run_dir,
            info["csv"],
            info["ids"],
            pred_dir,
            samples=args.samples,
            maps=MAPS if full else [],
            save_probs=full,
            save_samples=save,
        )
        by_id = read_scores(pred_dir)
        scores = [by_id[i] for i in sorted(by_id)]  # id order: pairs the methods' scores
        entry: dict = {"prediction": timing, "samples": sample_count(pred_dir), "scores": scores}
        if full:
            say(f"evaluate {name} on {set_name}")
            eval_file = args.out / "evaluations" / folder / f"{set_name}.json"
            entry.update(evaluate_set(pred_dir, info["csv"], eval_file, label_map))
        if save:
            entry["diversity"] = sample_diversity(pred_dir, info["ids"], num_classes)
        if info["role"] == "test":
            test_scores = scores
        else:
            entry["ood"] = ood_scores(test_scores, scores)
        row[set_name] = entry
    row["samples"] = row["test"]["samples"]
    return row


def main(argv: list[str] | None = None) -> int:
    start = time.perf_counter()
    args = parse_args(argv)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    if args.threads:
        # On a shared CPU one thread per process avoids threads spinning on each other.
        torch.set_num_threads(args.threads)
    preset = PRESETS[args.preset]
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "preset": args.preset,
        "command": "python " + shlex.join(sys.argv if argv is None else [__file__, *argv]),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
    }
    try:
        manifest, sets = prepare_sets(args, preset)
        rows = [run_method(v, args, preset, manifest, sets) for v in args.variants]
    except SeguqError as error:
        say(f"error: {error}")
        return 2
    train = rows[0]["train"]
    report["data"] = {
        "train": train.get("train_cases"),
        "val (held out of train)": train.get("val_cases"),
        **{n: len(i["ids"]) for n, i in sets.items()},
    }
    report["budget"] = {
        "size": args.size,
        "epochs": args.epochs,
        "steps_per_epoch": args.steps_per_epoch,
        "batch_size": args.batch_size,
        "patch_size": args.patch_size,
        "seed": args.seed,
        "members": args.members,
        "samples": args.samples,
        "resized": preset.get("resized", True),
        "corruptions": args.corruptions,
        "max_corrupt": args.max_corrupt,
        "ambiguity_samples": args.ambiguity_samples,
    }
    report["wall_seconds"] = time.perf_counter() - start
    report["stage_seconds"] = sum(
        row["train"]["seconds"]
        + sum(v["prediction"].get("seconds", 0.0) for v in row.values() if is_set(v))
        for row in rows
    )
    report["machine"]["load_average_at_end"] = round(os.getloadavg()[0], 2)
    report["methods"] = rows
    json_path, md_path = args.out / f"{args.report}.json", args.out / f"{args.report}.md"
    json_path.write_text(json.dumps(json_safe(report), indent=2, default=str))
    report["ood_bootstrap"] = bootstrap_ood(rows, sets, seed=args.seed)
    table = markdown_table(rows, sets, preset["class_names"])
    intervals = (
        "OOD AUROC with 95% bootstrap intervals (2000 paired resamples of the in- and "
        "out-of-distribution cases), and the difference to the first method:\n\n"
        + bootstrap_table(rows, report["ood_bootstrap"])
    )
    parts = [header(report), table, intervals]
    if any(row["test"].get("ambiguity") for row in rows):
        amb = ambiguity_table(rows, preset["class_names"])
        parts.append(
            f"Ambiguity on the test set ({len(sets['test']['annotators'])} annotators; "
            f"{args.ambiguity_samples} sampled masks saved per case, fewer distinct ones for "
            "methods with a smaller S): GED and HM-IoU of the samples against the annotators, "
            "NCC of the total map with the annotators' disagreement, diversity = mean pairwise "
            "1 - IoU between the saved samples:\n\n" + amb
        )
        table += "\n\n" + amb
    md_path.write_text("\n\n".join(parts) + "\n")
    say(f"wrote {json_path} and {md_path}")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
