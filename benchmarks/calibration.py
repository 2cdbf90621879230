"""Calibration with `--calibrate` (temperature scaling on the validation cases) on the real data:
all-pixel and foreground ECE before and after, on the held-out test sets of `targets.py`.

    python benchmarks/calibration.py --data cxr --threads 1 --minutes 20 --out /tmp/sc/cxr
    python benchmarks/calibration.py --data vessels --threads 1 --minutes 20 --out /tmp/sc/ves

The run is planned and trained exactly as in `targets.py` (same protocols and splits), with
`method.calibrate` on. Each test set is predicted twice, with the calibrated checkpoint and with
the same weights at temperature 1, and scored by `seguq evaluate` (which counts only the pixels
inside the manifest's field of view where it has one: DRIVE). Writes OUT/results.json.
`--reuse-run` keeps the run OUT/run of an earlier call (its training record too) and only
predicts and scores again.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

from targets import arguments, plan_and_train, protocol

from seguq.engine.checkpoint import load_method, read_checkpoint, save_checkpoint
from seguq.engine.evaluate import evaluate
from seguq.engine.predict import predict
from seguq.machine_info import describe_machine as machine_info

# What is kept of each evaluation.
KEYS = ("ece", "ece_foreground", "ece_predicted_foreground", "brier", "nll")


def uncalibrated_copy(run: Path) -> Path:
    """The run's best checkpoint at temperature 1, saved beside it."""
    best = run / "checkpoints" / "best.pt"
    method = load_method(best)
    method.temperature.fill_(1.0)
    info = dict(read_checkpoint(best)["info"], temperature=1.0)
    return save_checkpoint(method, run / "checkpoints" / "uncalibrated.pt", **info)


def scored(model: Path, test: dict, out: Path) -> dict:
    """Dice and calibration of `model` on one test set."""
    pred = predict(
        model,
        test["source"],
        out / "pred",
        splits=test.get("splits"),
        domains=test.get("domains"),
        maps=["total"],
        save_probs=True,
        overwrite=(out / "pred").exists(),
        progress=False,
    ).out_dir
    result = evaluate(
        pred,
        test["source"],
        out / "evaluation.json",
        splits=test.get("splits"),
        domains=test.get("domains"),
        overwrite=True,
        progress=False,
    )
    calibration = result["calibration"]
    return {
        "dice": result["segmentation"]["mean_dice"],
        "roi_cases": result["region_of_interest"]["cases"],
        **{key: calibration[key] for key in KEYS if key in calibration},
        "false_alarms": false_alarms(pred),
    }


def false_alarms(pred: Path) -> dict:
    """The OOD flag on these in-distribution cases: how many are flagged at the run's alpha
    against how many reference cases (None when the flag was refused)."""
    ood = json.loads((pred / "prediction.json").read_text())["ood"]
    with (pred / "scores.csv").open() as handle:
        flags = [row["ood"] for row in csv.DictReader(handle)]
    flagged = sum(flag == "true" for flag in flags)
    return {
        "alpha": ood["alpha"],
        "reference_cases": ood.get("reference_cases"),
        "cases": len(flags),
        "flagged": flagged if ood.get("flag") else None,
        "fraction": flagged / len(flags) if ood.get("flag") and flags else None,
    }


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--reuse-run", action="store_true", help="score OUT/run again")
    args = parser.parse_args()
    args.set.append("method.calibrate=true")
    if args.reuse_run:
        run, record = args.out / "run", json.loads((args.out / "results.json").read_text())
        tests = protocol(args.data, args.out)[1]
        record["tests"], record["rescored"] = {}, time.strftime("%Y-%m-%d %H:%M")
        record["rescored_on"] = machine_info()  # "machine" stays the training's
    else:
        _, run, record = plan_and_train(args)
        tests = record.pop("test_sets")
    temperature = float(read_checkpoint(run / "checkpoints" / "best.pt")["info"]["temperature"])
    record["temperature"] = temperature
    models = {"calibrated": run / "checkpoints" / "best.pt", "uncalibrated": uncalibrated_copy(run)}
    for test in tests:
        record["tests"][test["name"]] = {
            name: scored(model, test, args.out / test["name"] / name)
            for name, model in models.items()
        }
        for name, row in record["tests"][test["name"]].items():
            print(
                f"{args.data} {test['name']} {name} (T={temperature:.3f}): "
                + ", ".join(f"{k} {v:.4f}" for k, v in row.items() if isinstance(v, float)),
                flush=True,
            )
    (args.out / "results.json").write_text(json.dumps(record, indent=2, default=str))


if __name__ == "__main__":
    main()
