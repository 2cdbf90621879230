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
import csv
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

import numpy as np
import torch
from _machine import machine
from _prepare import annotator_columns, corrupt_subset, prepare_source, write_subset
from _presets import CORRUPTIONS, PRESETS, SOURCES
from _report import (
    OOD_ROLES,
    ambiguity_table,
    bootstrap_ood,
    bootstrap_table,
    header,
    is_set,
    markdown_table,
)

from seguq.benchmark.variants import Variant, parse_variants
from seguq.config import RunConfig, load_config
from seguq.data.maps import MAP_ENDINGS, find_output, read_map
from seguq.engine.evaluate import evaluate, json_safe, read_scores
from seguq.engine.predict import predict
from seguq.engine.train import train
from seguq.errors import SeguqError
from seguq.methods import method_names
from seguq.metrics.ambiguity import pairwise_iou
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
                prepared[spec["source"]] / "manifest.csv",
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
    return prepared[preset["train"]["source"]] / "manifest.csv", sets


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


def _budget(config: RunConfig) -> dict:
    d, t, m = config.data, config.train, config.method
    return {
        "source": d.source,
        "train_split": d.train_split,
        "train_domains": list(d.train_domains),
        "val_domains": list(d.val_domains),
        "intensity_augment": d.intensity_augment,
        "patch_size": list(d.patch_size),
        "batch_size": d.batch_size,
        "epochs": t.epochs,
        "steps_per_epoch": t.steps_per_epoch,
        "seed": t.seed,
        "method": m.name,
        "members": m.members if m.name == "ensemble" else None,
        "options": dict(m.options or {}),
        "dropout": config.net.dropout,
    }


def train_method(config: RunConfig, run_dir: Path, label: str) -> dict:
    """Train, or reuse a finished run trained with the same budget."""
    summary = run_dir / "train_summary.json"
    if (run_dir / "checkpoints" / "best.pt").is_file() and summary.is_file():
        saved = load_config(run_dir / "config.yaml")
        if _budget(saved) != _budget(config):
            raise SeguqError(
                f"{run_dir}: trained with another budget ({_budget(saved)}); use another --out"
            )
        say(f"train {label}: reusing {run_dir}")
        return {**json.loads(summary.read_text()), "reused": True}
    resume = (run_dir / "config.yaml").is_file()
    say(f"train {label}{' (resuming)' if resume else ''} -> {run_dir}")
    result = train(config, run_dir, resume=resume, overwrite=not resume)
    say(f"train {label}: {result.seconds:.0f} s, val Dice {result.val_dice:.4f}")
    return {**json.loads(summary.read_text()), "reused": False, "resumed": resume}


def predict_set(
    run_dir: Path, info: dict, out: Path, args: argparse.Namespace, full: bool, save_samples: int
) -> dict:
    """Predict one set (maps and probabilities when `full`, `save_samples` sampled masks per
    case), or reuse a finished folder (one holding those samples when they are asked for)."""
    timing = out / "timing.json"
    done = (out / "scores.csv").is_file() and sorted(read_scores(out)) == sorted(info["ids"])
    has_samples = not save_samples or find_output(out, info["ids"][0], "samples", MAP_ENDINGS)
    if done and has_samples:
        return json.loads(timing.read_text()) if timing.is_file() else {}
    start = time.perf_counter()
    result = predict(
        run_dir,
        info["csv"],
        out,
        samples=args.samples,
        maps=MAPS if full else [],
        save_probs=full,
        save_samples=save_samples,
        overwrite=True,
        progress=False,
    )
    seconds = time.perf_counter() - start
    record = {
        "seconds": seconds,
        "cases": result.cases,
        "ms_per_image": 1e3 * seconds / result.cases,
        "save_samples": save_samples,
    }
    timing.write_text(json.dumps(record, indent=2))
    return record


def _samples(pred_dir: Path) -> int:
    with (pred_dir / "scores.csv").open() as handle:
        return int(next(csv.DictReader(handle))["samples"])


def sample_diversity(pred_dir: Path, ids: list[str], num_classes: int) -> dict:
    """E[d(s, s')]: mean over cases of the mean pairwise 1 - IoU between distinct saved samples.

    IoU as in `seguq.metrics.ambiguity.pairwise_iou` (mean over the foreground classes present).
    Cases with fewer than two saved samples are skipped.
    """
    values = []
    for case_id in ids:
        path = find_output(pred_dir, case_id, "samples", MAP_ENDINGS)
        if path is None:
            continue
        samples = read_map(path, 2)
        if samples.ndim == 2 or samples.shape[0] < 2:
            continue
        samples = np.rint(samples).astype(np.int64)
        distance = 1.0 - pairwise_iou(samples, samples, num_classes)
        n = samples.shape[0]
        values.append(float(distance.sum() / (n * (n - 1))))  # diagonal is 0
    if not values:
        return {"mean": None, "cases": 0}
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "cases": len(values)}


def evaluate_set(pred_dir: Path, info: dict, out_file: Path, label_map: dict) -> dict:
    result = evaluate(
        pred_dir, info["csv"], out_file, label_map=label_map, overwrite=True, progress=False
    )
    calibration = result.get("calibration", {})
    detection = result.get("error_detection", {})
    per_class = result["segmentation"]["per_class"]
    return {
        "cases": result["cases"],
        "dice_mean": result["segmentation"]["mean_dice"],
        "dice": {k: v["dice"]["mean"] for k, v in per_class.items()},
        "ece": calibration.get("ece"),
        "brier": calibration.get("brier"),
        "nll": calibration.get("nll"),
        "error_auroc": {name: d["auroc"] for name, d in detection.items()},
        "aurc": result.get("triage", {}).get("aurc"),
        "e_aurc": result.get("triage", {}).get("e_aurc"),
        "ambiguity": result.get("ambiguity"),
    }


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
        "train": train_method(config, run_dir, name),
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
        timing = predict_set(run_dir, info, pred_dir, args, full, save)
        by_id = read_scores(pred_dir)
        scores = [by_id[i] for i in sorted(by_id)]  # id order: pairs the methods' scores
        entry: dict = {"prediction": timing, "samples": _samples(pred_dir), "scores": scores}
        if full:
            say(f"evaluate {name} on {set_name}")
            eval_file = args.out / "evaluations" / folder / f"{set_name}.json"
            entry.update(evaluate_set(pred_dir, info, eval_file, label_map))
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
