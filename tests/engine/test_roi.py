"""A region of interest (manifest column roi, or fov) restricts every pixel metric."""

from __future__ import annotations

import csv

import numpy as np
import torch
from PIL import Image

from seguq.data.io import read_mask
from seguq.engine.evaluate import evaluate
from seguq.engine.predict import predict


def test_metrics_count_only_the_region_of_interest(trained_run, tiny_manifest, tmp_path):
    pred = predict(
        trained_run,
        tiny_manifest,
        tmp_path / "pred",
        splits=["test"],
        domains=["site1"],
        progress=False,
    ).out_dir
    rows = list(csv.DictReader(tiny_manifest.open()))
    test = [r for r in rows if r["split"] == "test" and r["domain"] == "site1"]
    roi = np.zeros((64, 64), np.uint8)
    roi[:, :32] = 255  # the left half only
    Image.fromarray(roi).save(tmp_path / "left_half.png")
    manifest = tmp_path / "with_fov.csv"  # absolute paths: the shared data folder stays as it is
    data = tiny_manifest.parent
    absolute = [
        {k: str(data / v) if k.startswith(("image", "mask")) and v else v for k, v in r.items()}
        for r in test
    ]
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0], "fov"])
        writer.writeheader()
        writer.writerows([{**r, "fov": "left_half.png"} for r in absolute])
    whole = evaluate(
        pred,
        tiny_manifest,
        tmp_path / "whole.json",
        splits=["test"],
        domains=["site1"],
        progress=False,
    )
    inside = evaluate(pred, manifest, tmp_path / "inside.json", progress=False)
    assert (
        inside["region_of_interest"]["cases"] == len(test)
        and whole["region_of_interest"]["cases"] == 0
    )
    assert inside["calibration"]["num_pixels"] == len(test) * 64 * 32
    assert whole["calibration"]["num_pixels"] == len(test) * 64 * 64
    case = test[0]
    p, _ = read_mask(pred / f"{case['id']}_mask.png")
    t, _ = read_mask(tiny_manifest.parent / case["mask"])
    left = np.zeros_like(p, dtype=bool)
    left[:, :32] = True
    k = 1
    a, b = (p == k) & left, (t == k) & left
    expected = 1.0 if a.sum() + b.sum() == 0 else 2 * (a & b).sum() / (a.sum() + b.sum())
    row = next(r for r in inside["per_case"] if r["id"] == case["id"] and r["class"] == "disc_rim")
    assert np.isclose(row["dice"], expected)


def test_the_temperature_is_fitted_inside_the_region_of_interest(
    trained_run, tiny_manifest, tmp_path, monkeypatch
):
    from seguq.data.sources import load_source
    from seguq.engine import after_training
    from seguq.engine.case_sampling import Inference
    from seguq.engine.checkpoint import load_method

    rows = [r for r in csv.DictReader(tiny_manifest.open()) if r["domain"] == "site1"][:2]
    roi = np.zeros((64, 64), np.uint8)
    roi[:16] = 255  # the top quarter
    Image.fromarray(roi).save(tmp_path / "top.png")
    data = tiny_manifest.parent
    manifest = tmp_path / "roi.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0], "roi"])
        writer.writeheader()
        for r in rows:
            files = ("image", "mask")
            paths = {k: str(data / v) for k, v in r.items() if k.startswith(files) and v}
            writer.writerow({**r, **paths, "roi": "top.png"})
    seen = []
    monkeypatch.setattr(
        after_training, "fit_temperature", lambda logits, labels, **_: seen.append(labels) or 1.0
    )
    method = load_method(trained_run / "checkpoints" / "best.pt")
    inference = Inference.for_run(method.config, torch.device("cpu"), "32")
    source = load_source(manifest)
    after_training._fit(method, source, source.cases, inference, seed=0)
    assert seen[0].numel() == 2 * 16 * 64  # only the pixels inside the region of interest
