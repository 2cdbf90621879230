"""Calibration with `--calibrate` (temperature scaling on the validation cases) on the real data:
all-pixel and foreground ECE before and after, on the held-out test sets of `targets.py`.

    python benchmarks/calibration.py --data cxr --threads 1 --minutes 20 --out /tmp/sc/cxr
    python benchmarks/calibration.py --data vessels --threads 1 --minutes 20 --out /tmp/sc/ves

The run is planned and trained exactly as in `targets.py` (same protocols and splits), with
`method.calibrate` on. Each test set is predicted twice, with the calibrated checkpoint and with
the same weights at temperature 1, and scored by `seguq evaluate` (which counts only the pixels
inside the manifest's field of view where it has one: DRIVE). Writes OUT/results.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from targets import arguments, plan_and_train

from seguq.engine.checkpoint import load_method, read_checkpoint, save_checkpoint
from seguq.engine.evaluate import evaluate
from seguq.engine.predict import predict

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
    }


def main() -> None:
    parser = arguments(__doc__)
    args = parser.parse_args()
    args.set.append("method.calibrate=true")
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
                + ", ".join(f"{k} {v:.4f}" for k, v in row.items()),
                flush=True,
            )
    (args.out / "results.json").write_text(json.dumps(record, indent=2, default=str))


if __name__ == "__main__":
    main()
