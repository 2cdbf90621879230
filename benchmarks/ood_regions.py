"""OOD regions for any trained run: the pixel AUROC / FPR95 with which each uncertainty map finds
foreign content inserted into held-out images (`seguq ood-regions`); for hierarchical methods
also per level, with each level's share of the sample variance and the pixel correlation between
levels' maps on the unaltered cases (`seguq evaluate`'s "hierarchy").

    python benchmarks/ood_regions.py --run /tmp/st/cxr-det/run --data cxr --out /tmp/sr/cxr-det
    python benchmarks/ood_regions.py --run /tmp/sh/cxr-hue/run --data cxr --out /tmp/sr/cxr-hue
    python benchmarks/ood_regions.py --run B/runs/hue/seed0 --data synthetic \
        --source B/sets/test.csv --out /tmp/sr/syn-hue     # B: a synthetic-quick benchmark

Protocols (as in targets.py): cxr: 20 JSRT fold2 cases (seeded), patches of HC18 ultrasound
images and striped objects; vessels: the 20 DRIVE test images, patches of JSRT radiographs;
synthetic: 20 cases of a synthetic benchmark's test set, patches of JSRT radiographs.
Runs trained before seguq fitted the per-pixel feature statistics get them with
`--fit-feature-maps` (adds the run's feature_map_reference.npz; `seguq.refit_feature_maps`), so
that the `feature` map is scored too. Writes OUT/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from seguq.benchmark.prepare import write_subset
from seguq.engine.after_training import refit_feature_maps
from seguq.engine.checkpoint import load_method, resolve_model
from seguq.engine.evaluate import evaluate
from seguq.engine.ood_regions import ood_regions
from seguq.engine.predict import predict
from seguq.feature_maps import FILE as FEATURE_MAP_FILE
from seguq.machine_info import describe_machine as machine_info

DATA = Path(os.environ.get("SEGUQ_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
PROTOCOLS = {
    "cxr": {
        "source": "cxr_jsrt/manifest.csv",
        "splits": ["fold2"],
        "domains": None,
        "donors": "us_hc18/manifest.csv",
    },
    "vessels": {
        "source": "vessels/manifest.csv",
        "splits": ["test"],
        "domains": ["DRIVE"],
        "donors": "cxr_jsrt/manifest.csv",
    },
    # the test set of a `seguq benchmark` of the synthetic fundus data (--source DIR/sets/test.csv)
    "synthetic": {
        "source": None,
        "splits": None,
        "domains": None,
        "donors": "cxr_jsrt/manifest.csv",
    },
}
CASES = 20
MAPS = ["total", "epistemic", "variance"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", required=True, type=Path)
    parser.add_argument("--data", required=True, choices=sorted(PROTOCOLS))
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--label", default="", help="the run's name in the tables")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--source", help="the host images instead of the protocol's")
    parser.add_argument(
        "--fit-feature-maps",
        action="store_true",
        help="fit the run's per-pixel feature statistics first when it has none",
    )
    args = parser.parse_args()
    spec = PROTOCOLS[args.data]
    if not (args.source or spec["source"]):
        parser.error(f"--data {args.data} needs --source")
    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    # the 20 held-out cases (seeded), absolute paths: one manifest for every step below
    source = str(args.out / "cases.csv")
    write_subset(
        Path(args.source or DATA / spec["source"]),
        Path(source),
        splits=spec["splits"],
        domains=spec["domains"],
        limit=CASES,
        seed=0,
    )
    checkpoint = resolve_model(args.run)
    if args.fit_feature_maps and not (checkpoint.parent.parent / FEATURE_MAP_FILE).is_file():
        refit_feature_maps(checkpoint.parent.parent)
    method = load_method(checkpoint)
    hierarchical = bool(method.level_names)
    hierarchy = levels_of(args, source) if hierarchical else None
    regions = ood_regions(
        args.run,
        source,
        str(DATA / spec["donors"]),
        args.out / "regions",
        limit=None,
        per_level=hierarchical,
        threads=args.threads,
        overwrite=True,
        progress=False,
    )
    record = {
        "data": args.data,
        "run": str(args.run),
        "label": args.label or regions["method"],
        "method": regions["method"],
        "seed": method.config.train.seed,
        "machine": machine_info(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "hierarchy": hierarchy,
        "regions": {k: regions[k] for k in ("cases", "kinds", "fraction", "maps", "by_kind")},
        "seconds": time.perf_counter() - start,
    }
    (args.out / "results.json").write_text(json.dumps(record, indent=2))
    for key, scores in regions["maps"].items():
        auroc, fpr = scores["auroc"], scores["fpr95"]
        print(f"{record['label']} {key}: pixel AUROC {auroc:.3f}, FPR95 {fpr:.3f}", flush=True)


def levels_of(args: argparse.Namespace, source: str) -> dict | None:
    """Per-level maps of the unaltered held-out cases and their diagnostics."""
    pred = predict(
        args.run,
        source,
        args.out / "levels",
        maps=MAPS,
        save_probs=False,
        per_level=True,
        threads=args.threads,
        overwrite=True,
        reuse=True,
        progress=False,
    )
    evaluation = evaluate(
        pred.out_dir,
        source,
        args.out / "levels.json",
        overwrite=True,
        progress=False,
    )
    hierarchy = evaluation.get("hierarchy")
    if hierarchy is not None:
        hierarchy["dice"] = evaluation["segmentation"]["mean_dice"]
    return hierarchy


if __name__ == "__main__":
    main()
