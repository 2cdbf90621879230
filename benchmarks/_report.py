"""Tables of `compare_methods.py`: the Markdown results, ambiguity and bootstrap tables, and the
report header."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from seguq.metrics.ood import ood_scores

OOD_ROLES = ("far_ood", "corrupt")  # predicted for scores only
REPO = Path(__file__).resolve().parents[1]


def bootstrap_ood(rows: list[dict], sets: dict, draws: int = 2000, seed: int = 0) -> dict:
    """95% percentile intervals of each method's OOD AUROC and of its difference to rows[0].

    In- and out-of-distribution cases are resampled with replacement, the same draws for every
    method (their scores are in the same case order), so the differences are paired.
    """
    rng = np.random.default_rng(seed)
    result: dict = {}
    for name, info in sets.items():
        if info["role"] == "test":
            continue
        n_in, n_out = len(rows[0]["test"]["scores"]), len(rows[0][name]["scores"])
        picks = [
            (rng.integers(n_in, size=n_in), rng.integers(n_out, size=n_out)) for _ in range(draws)
        ]
        aurocs = {}
        for row in rows:
            inside, outside = np.asarray(row["test"]["scores"]), np.asarray(row[name]["scores"])
            aurocs[row["method"]] = np.array(
                [ood_scores(inside[i], outside[o])["auroc"] for i, o in picks]
            )
        base_name = rows[0]["method"]
        base = aurocs[base_name]
        result[name] = {
            method: {
                "auroc_ci95": np.percentile(values, [2.5, 97.5]).tolist(),
                f"minus_{base_name}_ci95": np.percentile(values - base, [2.5, 97.5]).tolist(),
            }
            for method, values in aurocs.items()
        }
    return result


def bootstrap_table(rows: list[dict], intervals: dict) -> str:
    base = rows[0]["method"]
    head = ["method"]
    for name in intervals:
        head += [f"{name} AUROC [95% CI]", f"{name} minus {base} [95% CI]"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row["method"]]
        for name, per_method in intervals.items():
            low, high = per_method[row["method"]]["auroc_ci95"]
            d_low, d_high = per_method[row["method"]][f"minus_{base}_ci95"]
            diff = row[name]["ood"]["auroc"] - rows[0][name]["ood"]["auroc"]
            cells.append(f"{_f(row[name]['ood']['auroc'])} [{_f(low)}, {_f(high)}]")
            cells.append(f"{diff:+.3f} [{d_low:+.3f}, {d_high:+.3f}]")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def is_set(value: object) -> bool:
    return isinstance(value, dict) and "prediction" in value


def _f(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def markdown_table(rows: list[dict], sets: dict, class_names: list[str]) -> str:
    shifted = [n for n, i in sets.items() if i["role"] == "shifted"]
    far = [n for n, i in sets.items() if i["role"] in OOD_ROLES]
    head = ["method", "S", *[f"Dice {c}" for c in class_names[1:]], "ECE", "Brier", "NLL"]
    head += ["err-det AUROC (total)", "AURC"]
    head += [h for n in shifted for h in (f"Dice {n}", f"shifted-site AUROC {n} (FPR95)")]
    head += [f"OOD AUROC {n} (FPR95)" for n in far]
    head += ["train time (s)", "predict ms/image"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        test = row["test"]
        cells = [row["method"], str(row["samples"])]
        cells += [_f(test["dice"].get(c)) for c in class_names[1:]]
        cells += [_f(test["ece"], 4), _f(test["brier"], 4), _f(test["nll"], 4)]
        cells += [_f(test["error_auroc"].get("total")), _f(test["aurc"], 4)]
        for n in shifted:
            ood = row[n]["ood"]
            cells += [_f(row[n]["dice_mean"]), f"{_f(ood['auroc'])} ({_f(ood['fpr95'], 2)})"]
        for n in far:
            ood = row[n]["ood"]
            cells.append(f"{_f(ood['auroc'])} ({_f(ood['fpr95'], 2)})")
        cells += [f"{row['train']['seconds']:.0f}", _f(test["prediction"].get("ms_per_image"), 0)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ambiguity_table(rows: list[dict], class_names: list[str]) -> str:
    """GED, HM-IoU, NCC against the annotators, sample diversity, Dice of the mean prediction
    (argmax of the mean probabilities, against the first annotator) and time per image."""
    head = ["method", "S", "Dice (mean fg)"]
    head += [f"Dice {c}" for c in class_names[1:]]
    head += ["GED", "HM-IoU", "NCC", "diversity E[d(s,s')]", "predict ms/image at S"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        test = row["test"]
        amb = test.get("ambiguity") or {}
        fg = [test["dice"].get(c) for c in class_names[1:]]
        fg = [v for v in fg if v is not None]
        cells = [row["method"], str(row["samples"])]
        cells.append(_f(float(np.mean(fg)) if fg else None))
        cells += [_f(test["dice"].get(c)) for c in class_names[1:]]
        for metric in ("ged", "hm_iou", "ncc"):
            cells.append(_f((amb.get(metric) or {}).get("mean")))
        cells.append(_f((test.get("diversity") or {}).get("mean")))
        cells.append(_f(test["prediction"].get("ms_per_image"), 0))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def header(report: dict) -> str:
    m, b = report["machine"], report["budget"]
    sizes = ", ".join(f"{n} {c}" for n, c in report["data"].items())
    return "\n".join(
        [
            f"# seguq method comparison: preset `{report['preset']}`",
            "",
            f"- command: `{report['command']}`",
            f"- date: {report['date']}; wall time of this invocation: "
            f"{report['wall_seconds'] / 60:.1f} min; train + predict time of all stages, "
            f"reused ones included: {report['stage_seconds'] / 60:.1f} min",
            f"- machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} "
            f"({m['torch_threads']} thread{'s' if m['torch_threads'] != 1 else ''}), CPU only; "
            "1-min load average at start "
            f"{m['load_average_at_start']}, at the end {m['load_average_at_end']}",
            f"- seguq imported from `{m['seguq']}`"
            + (
                f" (repository HEAD {m['git_commit']})"
                if Path(m["seguq"]).is_relative_to(REPO)
                else f", outside this repository (whose HEAD was {m['git_commit']})"
            ),
            f"- data (cases): {sizes}; "
            + (
                f"every image resized to {b['size']}x{b['size']}"
                if b["resized"]
                else "images at their generated size (`--size` not used)"
            ),
            f"- budget per model: {b['epochs']} epochs x {b['steps_per_epoch']} steps x batch "
            f"{b['batch_size']} of {b['patch_size']}x{b['patch_size']} patches, seed {b['seed']}; "
            + (
                f"the ensemble trains {b['members']} such members (seeds {b['seed']}.."
                f"{b['seed'] + b['members'] - 1}); "
                if any(r.get("base_method") == "ensemble" for r in report.get("methods", []))
                else ""
            )
            + f"S = {b['samples'] or 'each method default'}",
            "- OOD AUROC: image score (mean total-uncertainty) of each set vs the in-distribution "
            "test set, OOD positive; FPR95 in brackets. Predict ms/image: wall time of `predict` "
            "on the test set (maps and files included) / cases.",
            f"- corrupted copies of the test images: {', '.join(b['corruptions']) or 'none'}"
            + (f" (first {b['max_corrupt']} test cases, seeded)" if b["max_corrupt"] else ""),
        ]
    )
