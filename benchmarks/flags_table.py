"""docs/FLAGS.md from the results.json files of benchmarks/calibration.py,
benchmarks/ood_regions.py and the shipped protocols (`seguq benchmark CONFIG`).

    python benchmarks/flags_table.py > docs/FLAGS.md   # from the committed results
    python benchmarks/flags_table.py RESULTS.json ...  # from any

The page is generated: edit this script, not the page.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from _evidence import PROTOCOL_RESULTS, committed, mean_sd, table
from _flag_targets import flag_target_rows
from _level_targets import level_target_rows, max_correlation, share

ECE_TARGET, FOREGROUND_TARGET, REGION_TARGET = 0.01, 0.05, 0.90


def _num(value, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _machine(record: dict) -> str:
    m = record["machine"]
    cpu = f"{m['cpu']} ({m.get('cpu_capability', '?')})"
    return f"{cpu}, torch {m['torch']}, commit {m.get('git_commit', '?')}"


def calibration_rows(records: list[dict]) -> list[str]:
    rows = [
        "| data | test set | Dice | T | ECE before → after | ECE foreground before → after | "
        "ECE predicted foreground before → after | all-pixel ≤ 0.01 | foreground ≤ 0.05 | "
        "flagged OOD at α = 0.05 (target 2-9%) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(records, key=lambda r: r["data"]):
        for name, test in r["tests"].items():
            before, after = test["uncalibrated"], test["calibrated"]
            roi = " (inside the field of view)" if after.get("roi_cases") else ""
            rows.append(
                f"| {r['data']} | {name}{roi} | {after['dice']:.4f} | {r['temperature']:.3f} | "
                f"{_num(before['ece'])} → {_num(after['ece'])} | "
                f"{_num(before['ece_foreground'])} → {_num(after['ece_foreground'])} | "
                f"{_num(before.get('ece_predicted_foreground'))} → "
                f"{_num(after.get('ece_predicted_foreground'))} | "
                f"{'met' if after['ece'] <= ECE_TARGET else 'not met'} | "
                f"{'met' if after['ece_foreground'] <= FOREGROUND_TARGET else 'not met'} | "
                f"{_alarms(after.get('false_alarms'))} |"
            )
    return rows


def _alarms(alarms: dict | None) -> str:
    if not alarms:
        return "not recorded"
    reference = alarms["reference_cases"]
    if alarms["flagged"] is None:
        return f"refused: {reference} reference cases, fewer than 1/α - 1"
    return (
        f"{alarms['flagged']} of {alarms['cases']} ({alarms['fraction']:.3f}; "
        f"{reference} reference cases)"
    )


def region_rows(records: list[dict]) -> list[str]:
    rows = [
        "| data | run | map | pixel AUROC | patch | object | FPR95 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(records, key=lambda r: (r["data"], r["label"])):
        regions = r["regions"]
        for key, scores in regions["maps"].items():
            if "level" in key and not key.endswith("epistemic"):
                continue  # per level, the epistemic map (the others follow the total map)
            if _constant(scores):
                continue
            kinds = regions["by_kind"]
            rows.append(
                f"| {r['data']} | {r['label']} | {key} | {_num(scores['auroc'], 3)} | "
                f"{_num(kinds.get('patch', {}).get(key, {}).get('auroc'), 3)} | "
                f"{_num(kinds.get('object', {}).get(key, {}).get('auroc'), 3)} | "
                f"{_num(scores['fpr95'], 3)} |"
            )
    return rows


def _constant(scores: dict) -> bool:
    """A map that ranks no pixel above another (AUROC 0.5, every other pixel at the threshold)."""
    return scores["auroc"] == 0.5 and scores["fpr95"] == 1.0


def seed_region_rows(records: list[dict]) -> list[str]:
    """Per run label and map, mean ± std over the seeds' pixel AUROC (all, patch, object) and
    FPR95; per level, the epistemic map only (as above)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        groups.setdefault((r["data"], r["label"]), []).append(r["regions"])
    rows = []
    for (data, label), runs in sorted(groups.items()):
        for key in runs[0]["maps"]:
            if "level" in key and not key.endswith("epistemic"):
                continue
            if all(_constant(run["maps"][key]) for run in runs):
                continue  # e.g. the epistemic map of a single-sample method: zero everywhere
            kinds = [
                [run["by_kind"].get(k, {}).get(key, {}).get("auroc") for run in runs]
                for k in ("patch", "object")
            ]
            rows.append(
                [
                    data,
                    label,
                    f"{len(runs)}",
                    key,
                    mean_sd([run["maps"][key]["auroc"] for run in runs]),
                    *(mean_sd(values) for values in kinds),
                    mean_sd([run["maps"][key]["fpr95"] for run in runs]),
                ]
            )
    columns = ["data", "run", "seeds", "map", "pixel AUROC", "patch", "object", "FPR95"]
    return table(columns, rows) if rows else []


def seeded_section(seeded: list[dict]) -> list[str]:
    """The feature map against every method's uncertainty maps, per seed (none: no section)."""
    if not seeded:
        return []
    return [
        "### The feature map, every seed",
        "",
        "The same protocol on converged vessels models at 256 px, on every method: the "
        "deterministic U-Net and HUE of `seguq benchmark benchmarks/configs/"
        "hue-levels-vessels.yaml` (3 seeds; `--source DIR/sets/test.csv`; runs trained before "
        "seguq fitted the feature statistics at the end of training got them with "
        "`--fit-feature-maps`), the other six methods of `benchmarks/configs/"
        "vessels-256-one-seed.yaml` (seed 0; the same data, budget and stopping rule); mean ± "
        "std over the seeds where there are several. `feature`: the per-pixel Mahalanobis "
        "distance of the encoder features to the training images' (`seguq predict --maps "
        "feature`; docs/DESIGN.md). Target for HUE's total map: "
        f"≥ {REGION_TARGET:.2f}.",
        "",
        *seed_region_rows(seeded),
        "",
        *sorted({f"- {r['data']} {r['label']}: {_machine(r)}, {r['date'][:10]}." for r in seeded}),
        "",
    ]


def level_rows(records: list[dict]) -> list[str]:
    rows = [
        "| data | run | Dice | level | share of the sample variance | share of the epistemic "
        "map | epistemic-map correlation with the other levels (max) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(records, key=lambda r: (r["data"], r["label"])):
        hierarchy = r.get("hierarchy")
        if not hierarchy:
            continue
        maps = hierarchy["maps"]
        for level in hierarchy["levels"]:
            variance = share(maps, "variance", level)
            epistemic = share(maps, "epistemic", level)
            correlation = max_correlation(maps, "epistemic", level)
            rows.append(
                f"| {r['data']} | {r['label']} | {_num(hierarchy.get('dice'))} | {level} | "
                f"{_num(variance, 3)} | {_num(epistemic, 3)} | {_num(correlation, 3)} |"
            )
    return rows


def default_inputs() -> list[str]:
    """The committed calibration, OOD-regions and protocol results."""
    return [*committed("calibration"), *committed("ood_regions"), *committed(*PROTOCOL_RESULTS)]


def main() -> None:
    records = [json.loads(Path(p).read_text()) for p in sys.argv[1:] or default_inputs()]
    calibration = [r for r in records if "temperature" in r]
    regions = [r for r in records if "regions" in r and "seed" not in r]
    seeded = [r for r in records if "regions" in r and "seed" in r]
    protocols = [r for r in records if r.get("kind") == "seguq-benchmark" and r.get("runs")]
    lines = [
        "# Calibration, OOD regions and HUE's levels (generated)",
        "",
        "Generated by `benchmarks/flags_table.py` from `benchmarks/results/calibration/*.json` "
        "and `benchmarks/results/ood_regions/*.json` (one seed per run; the feature-map section "
        "aggregates seeds), and the flag targets from `benchmarks/results/benchmarks/*/results."
        "json`; do not edit by hand.",
        "",
        "## Temperature scaling (`--calibrate`)",
        "",
        "`python benchmarks/calibration.py --data D --threads 1 --minutes 18 --out DIR`: the "
        "protocols of `benchmarks/targets.py`, trained with `method.calibrate`; each test set "
        "predicted with the fitted temperature (after) and with the same weights at T = 1 "
        "(before). ECE: 15 equal-width bins over the pixels (inside the field of view where the "
        "manifest has one). *Foreground*: pixels predicted or annotated as a foreground class; "
        "*predicted foreground*: pixels predicted as one. The foreground ECE picks pixels by "
        "their label too, so even a calibrated model looks over-confident there (the pixels it "
        "misses enter only when they are wrong; `tests/metrics/test_calibration.py` shows a "
        "calibrated case with ECE 0 over all pixels and 0.16 over the foreground); the "
        "predicted-foreground ECE has no such bias.",
        "",
        *calibration_rows(calibration),
        "",
        *(
            f"- {r['data']}: trained {r['date']}; {_machine(r)}"
            + (f"; scored again {r['rescored']}." if r.get("rescored") else ".")
            for r in calibration
        ),
        "",
        "## OOD regions",
        "",
        "`python benchmarks/ood_regions.py --run RUN --data D --out DIR` (`seguq ood-regions`): "
        "20 held-out images (seeded), each once with a square of a donor image of another "
        "modality (cxr: HC18 ultrasound; vessels: JSRT radiographs) and once with a striped "
        "ellipse, covering 1/16 of the image in the host's intensity range. Pixel AUROC: the "
        "inserted pixels against all others, pooled over the images; FPR95: the share of "
        f"other pixels above the threshold that finds 95% of the inserted ones. Per level, the "
        f"epistemic map (each level's total and aleatoric maps follow the all-level ones). "
        f"Target: HUE's total map ≥ {REGION_TARGET:.2f}.",
        "",
        *region_rows(regions),
        "",
        "cxr: the models of `benchmarks/targets.py --minutes 15` (deterministic: the calibrated "
        "run above); the two runs marked AVX2 are `targets.py --data cxr --method hue --minutes "
        "20 --threads 1`, with and without `--set 'method.options={kl_average: image}'`, trained "
        "side by side on a slower CPU (5 and 6 epochs of 100 steps: the plan fits the epochs to "
        "the time). vessels: the converged seed-0 models of `seguq benchmark "
        "benchmarks/configs/vessels-256.yaml` (`--source DIR/sets/test.csv`: the protocol's 20 "
        "DRIVE test images at 256 px as hosts). synthetic: the models of `seguq benchmark "
        "benchmarks/configs/synthetic-quick.yaml --jobs 2` (6 epochs of 10 steps at 64 px: far "
        "from converged; its 15 test images as hosts, patches of JSRT radiographs).",
        "",
        *(f"- {r['data']} {r['label']}: {_machine(r)}, {r['date']}." for r in regions),
        "",
        *seeded_section(seeded),
        "## HUE's levels",
        "",
        "The same script, on the 20 unaltered held-out images, with `--per-level` maps: each "
        "level sampled alone (the others at their prior mean). Share: the level's summed map "
        "over the all-level map's (levels interact, so shares need not add up to 1). Targets: "
        "a share ≥ 5% of the sample variance at every level, and epistemic maps whose "
        "correlation between levels is < 0.9.",
        "",
        *level_rows(regions),
        "",
    ]
    for record in protocols:
        lines += [
            f"## Flag targets on converged models: `{record['name']}`, every method, "
            f"{len(record['seeds'])} seeds",
            "",
            f"From `{record['name']}`'s results (docs/BENCHMARKS.md gives the command, machine "
            "and commit). Image AUROC of the default combined score against the test set, mean ± "
            'std over seeds with the 95% interval over seeds and cases; "test flagged": the '
            "fraction of in-distribution test cases with p < 0.05 (refused: fewer validation "
            "cases than 1/α - 1 = 19 to calibrate the flag); failure detection, on the test set "
            "and on each shifted site: the case AURC (risk 1 - Dice) of 1 - predicted Dice "
            "against that of the uncertainty score. A target is met when the seed mean meets it.",
            "",
            *flag_target_rows(record),
            "",
        ]
        levels = level_target_rows(record)
        if levels:
            lines += [
                f"### HUE's levels on `{record['name']}` (test set, {len(record['seeds'])} seeds)",
                "",
                "Each level sampled alone (the others at their prior mean) on the test cases, "
                "as above; mean ± std over seeds. The variance share needs the protocol to write "
                "the `variance` map; without it the epistemic share stands in.",
                "",
                *levels,
                "",
            ]
    sys.stdout.write("\n".join(lines))


if __name__ == "__main__":
    main()
