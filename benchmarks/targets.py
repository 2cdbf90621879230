"""Segmentation quality with the defaults (the plan) on the three real data sets, and the wall
time of training: the targets of the competitive-segmentation issue.

    python benchmarks/targets.py --data hippocampus --out /tmp/seguq-targets/hip-det
    python benchmarks/targets.py --data cxr --method hue --threads 1 --out /tmp/st/cxr-hue
    python benchmarks/targets.py --data vessels --dims 2 --out /tmp/seguq-targets/ves

Protocols (held-out cases never seen in training, validation, or early stopping):
- hippocampus: MSD Task04, a seeded 80/20 split by volume (seed 0); validation: 20% of the 80%.
- cxr: JSRT fold1 -> fold2 (lungs); validation: 20% of fold1.
- vessels: DRIVE train -> DRIVE test, Dice inside the field of view; CHASE_DB1 reported (whole
  image and inside its field of view, computed from its own image as the fundus area).

The real data is read from ../shared/data beside the repository ($SEGUQ_DATA overrides).
Nothing but the data, the method, the seed and the threads is chosen here: every other value
comes from `seguq.plan` for this machine. Writes OUT/results.json (plan, timings, Dice per class
and case) and prints a summary line.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

import numpy as np

from seguq.benchmark.msd_split import msd_split
from seguq.data.io import read_image, read_mask
from seguq.engine.predict import predict
from seguq.engine.train import train
from seguq.machine_info import describe_machine as machine_info
from seguq.plan import Machine, plan_run

DATA = Path(os.environ.get("SEGUQ_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def hippocampus_manifest(out: Path, seed: int = 0) -> tuple[Path, dict]:
    """A manifest of the MSD folder with a seeded 80/20 train/test split by volume."""
    root = DATA / "hippocampus_msd"
    msd_split(root, out / "hippocampus", test_fraction=0.2, seed=seed)
    labels = json.loads((root / "dataset.json").read_text())["labels"]
    names = [labels[k] for k in sorted(labels, key=int)]
    path = out / "hippocampus" / "manifest.csv"
    return path, {"data": {"source": str(path), "class_names": names}}


def protocol(name: str, out: Path) -> tuple[dict, list[dict]]:
    """(the user's config values, the test sets: name, source, splits, domains, fov column)."""
    if name == "hippocampus":
        manifest, user = hippocampus_manifest(out)
        return user, [{"name": "test", "source": str(manifest), "splits": ["test"]}]
    if name == "cxr":
        manifest = str(DATA / "cxr_jsrt" / "manifest.csv")
        user = {
            "data": {
                "source": manifest,
                "train_split": "fold1",
                "class_names": ["background", "lungs"],
            }
        }
        return user, [{"name": "fold2", "source": manifest, "splits": ["fold2"]}]
    if name == "vessels":
        manifest = str(DATA / "vessels" / "manifest.csv")
        user = {
            "data": {
                "source": manifest,
                "train_domains": ["DRIVE"],
                "train_split": "train",
                "class_names": ["background", "vessel"],
            }
        }
        return user, [
            {"name": "DRIVE_test", "source": manifest, "splits": ["test"], "domains": ["DRIVE"]},
            {"name": "CHASE_DB1", "source": manifest, "domains": ["CHASEDB1"]},
        ]
    raise SystemExit(f"unknown data set {name}")


def dice_scores(pred_dir: Path, source: str, test: dict, num_classes: int) -> dict:
    """Dice per class per case (inside the field of view where the manifest has one)."""
    from seguq.data.sources import load_source

    src = load_source(source)
    cases = [
        c
        for c in src.cases
        if c.masks
        and (not test.get("splits") or c.split in test["splits"])
        and (not test.get("domains") or c.domain in test["domains"])
    ]
    rows = []
    for case in cases:
        pred, _ = read_mask(pred_dir / f"{case.id}_mask{_ending(case.mask)}")
        raw, _ = read_mask(case.mask)
        truth = np.vectorize(src.label_map.get)(raw)
        roi = _roi(case, Path(source).parent)
        scores = {}
        for k in range(1, num_classes):
            p, t = (pred == k) & roi, (truth == k) & roi
            denominator = p.sum() + t.sum()
            scores[k] = 1.0 if denominator == 0 else float(2 * (p & t).sum() / denominator)
        rows.append({"id": case.id, "dice": scores, "roi": bool(case.extra.get("fov"))})
    per_class = {k: float(np.mean([r["dice"][k] for r in rows])) for k in range(1, num_classes)}
    return {
        "cases": len(rows),
        "mean_dice": float(np.mean(list(per_class.values()))),
        "per_class": per_class,
        "inside_fov": any(r["roi"] for r in rows),
        "per_case": rows,
    }


def _ending(mask: Path) -> str:
    return ".nii.gz" if mask.name.endswith((".nii.gz", ".nii")) else ".png"


def _roi(case, root: Path) -> np.ndarray:
    """The field of view: the manifest's fov mask; for fundus photographs without one (CHASE_DB1),
    the pixels brighter than 20 in the red channel; else everything."""
    raw_image, _ = read_image(case.images)
    if case.extra.get("fov"):
        fov, _ = read_mask(root / case.extra["fov"])
        return fov > 0
    if case.domain == "CHASEDB1":
        return raw_image[0] > 20
    return np.ones(raw_image.shape[1:], dtype=bool)


def plan_and_train(args: argparse.Namespace) -> tuple:
    """Plan a run of `args.data` / `args.method` for this machine and train it in OUT/run.

    Returns (config, run folder, the results record without test results; its "test_sets" are
    the protocol's test sets)."""
    args.out.mkdir(parents=True, exist_ok=True)
    user, tests = protocol(args.data, args.out)
    user.setdefault("method", {})["name"] = args.method
    user.setdefault("train", {}).update({"seed": args.seed, "progress": False})
    if args.threads:
        user["train"]["threads"] = args.threads
    if args.dims:
        user["data"]["dims"] = args.dims
    import yaml

    for item in args.set:
        key, _, value = item.partition("=")
        section, name = key.split(".")
        user.setdefault(section, {})[name] = yaml.safe_load(value)
    start = time.perf_counter()
    from seguq.devices import default_threads

    threads = args.threads or default_threads()
    config, plan = plan_run(user, machine=Machine(threads=threads, budget_minutes=args.minutes))
    planning = time.perf_counter() - start
    for line in plan.lines():
        print("  " + line, flush=True)
    run = args.out / "run"
    result = train(config, run, overwrite=run.exists(), plan=plan)
    with (run / "logs" / "metrics.csv").open() as handle:
        epochs = sum(1 for row in csv.DictReader(handle) if row.get("train_loss"))
    record = {
        "data": args.data,
        "method": args.method,
        "seed": args.seed,
        "threads": threads,
        "machine": machine_info(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "plan": plan.to_dict(),
        "plan_seconds": planning,
        "train_seconds": result.seconds,
        "epochs_run": epochs,
        "epochs_planned": config.train.epochs,
        "val_dice": result.val_dice,
        "tests": {},
    }
    record["test_sets"] = tests
    return config, run, record


def arguments(description: str) -> argparse.ArgumentParser:
    """The options every target script takes (data set, method, seed, threads, budget)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, choices=["hippocampus", "cxr", "vessels"])
    parser.add_argument("--method", default="deterministic")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="0: seguq's default")
    parser.add_argument("--minutes", type=float, default=25.0, help="the plan's training time")
    parser.add_argument("--dims", type=int, choices=(2, 3))
    parser.add_argument(
        "--set", action="append", default=[], help="extra config value: section.key=yaml"
    )
    return parser


def main() -> None:
    parser = arguments(__doc__)
    args = parser.parse_args()
    config, run, record = plan_and_train(args)
    tests = record.pop("test_sets")
    num_classes = len(config.data.class_names)
    for test in tests:
        pred = args.out / f"pred_{test['name']}"
        t0 = time.perf_counter()
        predict(
            run,
            test["source"],
            pred,
            splits=test.get("splits"),
            domains=test.get("domains"),
            maps=["total"],
            save_probs=False,
            overwrite=pred.exists(),
            progress=False,
        )
        scores = dice_scores(pred, test["source"], test, num_classes)
        scores["predict_seconds"] = time.perf_counter() - t0
        record["tests"][test["name"]] = scores
        summary = ", ".join(
            f"{config.data.class_names[k]} {v:.4f}" for k, v in scores["per_class"].items()
        )
        print(
            f"{args.data} {args.method} {test['name']}: Dice {scores['mean_dice']:.4f} ({summary})",
            flush=True,
        )
    minutes = record["train_seconds"] / 60
    print(
        f"train {minutes:.1f} min, {record['epochs_run']} of {record['epochs_planned']} epochs,"
        f" threads {record['threads']}"
    )
    (args.out / "results.json").write_text(json.dumps(record, indent=2, default=str))


if __name__ == "__main__":
    main()
