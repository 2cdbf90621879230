"""Do hard pixels carry high uncertainty? (the pixel-wise paper's first observation)

For a trained `pixelwise` run: predict a labelled set, then relate the learned per-pixel
uncertainty (`learned_sigma`, the logit standard deviation) to the distance from the reference
boundary, and measure how well it detects the misclassified pixels (AUROC / AUPR), beside the
softmax entropy of the same prediction.

    python benchmarks/hard_pixels.py --run RUN --data SRC --domains site4 --out /tmp/hard-pixels
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from seguq.benchmark.tables import markdown_table
from seguq.data.arrays import load_case
from seguq.data.case import select_cases
from seguq.data.io import read_mask
from seguq.data.maps import MAP_ENDINGS, find_output, read_map
from seguq.data.sources import load_source
from seguq.engine.predict import predict
from seguq.metrics.error_detection import ErrorDetectionAccumulator

BINS = [(0, 0), (1, 1), (2, 2), (3, 3), (4, 5), (6, 10), (11, 10**9)]


def boundary_distance(labels: np.ndarray) -> np.ndarray:
    """Distance (pixels) of every pixel to the nearest class boundary of `labels` (H, W)."""
    edges = np.zeros(labels.shape, bool)
    for axis in range(labels.ndim):
        change = np.diff(labels, axis=axis) != 0
        lead = [slice(None)] * labels.ndim
        lead[axis] = slice(1, None)
        edges[tuple(lead)] |= change
    if not edges.any():
        return np.full(labels.shape, np.inf)
    return ndimage.distance_transform_edt(~edges)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a trained pixelwise run")
    parser.add_argument("--data", required=True)
    parser.add_argument("--domains", default="", help="comma list (default: all)")
    parser.add_argument("--split", default="", help="comma list (default: all)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    domains = [d for d in args.domains.split(",") if d] or None
    splits = [s for s in args.split.split(",") if s] or None
    torch.set_num_threads(1)
    pred = args.out / "pred"
    if not (pred / "scores.csv").is_file():
        predict(
            args.run,
            args.data,
            pred,
            maps=["total"],
            domains=domains,
            splits=splits,
            overwrite=True,
            progress=False,
        )
    source = load_source(args.data)
    cases = select_cases([c for c in source.cases if c.masks], splits=splits, domains=domains)
    sums = {b: [0.0, 0.0, 0] for b in BINS}  # learned sigma, entropy, pixel count
    detectors = {"learned_sigma": ErrorDetectionAccumulator(), "total": ErrorDetectionAccumulator()}
    for case in cases:
        truth = load_case(case, source).masks[0]
        labels, _ = read_mask(find_output(pred, case.id, "mask", (".png", ".nii.gz")))
        sigma = read_map(find_output(pred, case.id, "learned_sigma", MAP_ENDINGS), truth.ndim)
        entropy = read_map(find_output(pred, case.id, "total", MAP_ENDINGS), truth.ndim)
        distance = boundary_distance(truth)
        for low, high in BINS:
            inside = (distance >= low) & (distance <= high)
            sums[(low, high)][0] += float(sigma[inside].sum())
            sums[(low, high)][1] += float(entropy[inside].sum())
            sums[(low, high)][2] += int(inside.sum())
        errors = torch.from_numpy(labels != truth)[None]
        detectors["learned_sigma"].update(torch.from_numpy(sigma)[None], errors)
        detectors["total"].update(torch.from_numpy(entropy)[None], errors)
    rows, table = [], []
    for (low, high), (s, e, n) in sums.items():
        name = f"{low}" if low == high else (f"{low}-{high}" if high < 10**9 else f">= {low}")
        rows.append(
            {
                "distance": name,
                "pixels": n,
                "learned_sigma": s / max(n, 1),
                "entropy": e / max(n, 1),
            }
        )
        table.append([name, n, f"{s / max(n, 1):.4f}", f"{e / max(n, 1):.4f}"])
    detection = {name: acc.compute() for name, acc in detectors.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "hard_pixels.json").write_text(
        json.dumps({"bins": rows, "error_detection": detection, "cases": len(cases)}, indent=2)
    )
    print(f"{len(cases)} cases of {args.data} (domains {domains or 'all'}), run {args.run}\n")
    print(
        markdown_table(
            ["distance to boundary (px)", "pixels", "mean learned sigma", "mean softmax entropy"],
            table,
        )
    )
    print()
    print(
        markdown_table(
            ["map", "error AUROC", "error AUPR", "error rate"],
            [
                [name, f"{d['auroc']:.3f}", f"{d['aupr']:.3f}", f"{d['error_rate']:.4f}"]
                for name, d in detection.items()
            ],
        )
    )


if __name__ == "__main__":
    main()
