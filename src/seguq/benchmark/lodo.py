"""Leave-one-domain-out: for each domain, train on all the others and evaluate on it.

Every (held-out domain, method, seed) is one job with its own run, prediction and evaluation
folders under OUT; a job whose evaluation exists is skipped, so running the command again resumes.
Tables give per-domain and per-class Dice, HD95 and ASSD as mean ± std over seeds, and the average
over domains (computed per seed, then mean ± std over seeds).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path

from seguq.benchmark.invocations import earlier_invocations, invocation
from seguq.benchmark.stages import case_dice
from seguq.benchmark.tables import (
    SEGMENTATION_METRICS,
    class_means,
    fmt,
    markdown_table,
    mean_std,
    write_csv,
    write_json,
)
from seguq.benchmark.training import train_run
from seguq.benchmark.variants import Variant
from seguq.config import RunConfig
from seguq.data.io import atomic_write
from seguq.data.sources import Source, load_source
from seguq.devices import device_for
from seguq.engine.convergence import run_convergence
from seguq.engine.evaluate import evaluate
from seguq.engine.output_folder import resumable_output, source_inputs
from seguq.engine.predict import predict
from seguq.errors import SeguqError
from seguq.machine_info import describe_machine
from seguq.progress import progress as progress_bar


@dataclass(frozen=True)
class Fold:
    """One held-out domain: train on `train_domains`, test on `test_domain` (its `test_splits`)."""

    test_domain: str
    train_domains: tuple[str, ...]
    test_splits: tuple[str, ...] | None


def lodo_folds(
    source: Source, domains: list[str] | None = None, test_split: str = "test"
) -> list[Fold]:
    """The folds of the protocol.

    Args:
        source: the data.
        domains: the domains taking part (default: every domain with labelled cases outside
            the "ood" split).
        test_split: the held-out domain's split to test on when it has one; otherwise, or when
            it is "all", every labelled case of the held-out domain is tested.

    Raises:
        SeguqError: fewer than two domains, or an unknown one.
    """
    labelled = [c for c in source.cases if c.masks and c.split != "ood"]
    known = sorted({c.domain for c in labelled})
    chosen = domains or known
    for name in chosen:
        if name not in known:
            raise SeguqError(f"--domains: unknown domain '{name}' (known: {', '.join(known)})")
    if len(chosen) < 2:
        raise SeguqError(
            f"{source.name}: leave-one-domain-out needs at least two domains, got {chosen}"
        )
    folds = []
    for held in chosen:
        splits = {c.split for c in labelled if c.domain == held}
        folds.append(
            Fold(
                held,
                tuple(d for d in chosen if d != held),
                (test_split,) if test_split in splits else None,
            )
        )
    return folds


def run_lodo(
    data: str,
    variants: list[Variant],
    out: Path,
    *,
    base: RunConfig | None = None,
    seeds: int = 3,
    domains: list[str] | None = None,
    hold_out: list[str] | None = None,
    test_split: str = "test",
    overwrite: bool = False,
    progress: bool = True,
    command: str | None = None,
) -> dict:
    """Run (or resume) the protocol and write results.json, results.csv and results.md
    (`command`: the command line to record in results.json).

    `hold_out` restricts the run to some folds (e.g. an ablation on the hardest domain); the
    training domains of each fold are still all the other protocol domains.

    Raises:
        SeguqError: bad data, domains or methods; an existing finished benchmark folder without
            `overwrite` is resumed, never overwritten.
    """
    start = time.perf_counter()
    base = base or RunConfig()
    source = load_source(data, label_map=base.data.label_map)
    folds = lodo_folds(source, domains, test_split)
    if hold_out:
        unknown = sorted(set(hold_out) - {f.test_domain for f in folds})
        if unknown:
            raise SeguqError(f"--hold-out: {', '.join(unknown)} not among the protocol's domains")
        folds = [f for f in folds if f.test_domain in hold_out]
    jobs = [
        (fold, variant, seed) for fold in folds for variant in variants for seed in range(seeds)
    ]
    with resumable_output(
        Path(out),
        "lodo",
        overwrite=overwrite,
        protected=source_inputs(source),
        legacy_file="results.json",
        # what every job's result depends on; methods, seeds and folds may be added later
        settings={
            "data": str(Path(data).resolve()) if Path(data).exists() else str(data),
            "config": _result_settings(base),
            "domains": sorted(domains) if domains else None,
            "test_split": test_split,
        },
    ) as folder:
        out = folder.path
        bar = progress_bar(jobs, "lodo", "job", progress)
        for fold, variant, seed in bar:
            bar.set_description(f"lodo {fold.test_domain} | {variant.label} | seed {seed}")
            _run_job(data, base, fold, variant, seed, out, progress)
        results = _collect(folds, variants, seeds, out)
        results.update(
            machine=describe_machine(),
            date=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            wall_seconds=time.perf_counter() - start,
            command=command,
        )
        results["invocations"] = [*earlier_invocations(out), invocation(results)]
        _write_tables(results, out, data)
    return results


def _result_settings(base: RunConfig) -> dict:
    """The base config without what does not change a result (threads, progress, loggers)."""
    config = base.to_dict()
    for key in ("threads", "workers", "progress", "loggers"):
        config.get("train", {}).pop(key, None)
    return config


def _job_dir(out: Path, fold: Fold, variant: Variant, seed: int) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "._=-" else "_" for ch in variant.label)
    return out / "jobs" / fold.test_domain / safe / f"seed{seed}"


def _run_job(
    data: str, base: RunConfig, fold: Fold, variant: Variant, seed: int, out: Path, progress: bool
) -> None:
    folder = _job_dir(out, fold, variant, seed)
    evaluation = folder / "eval.json"
    if evaluation.is_file():
        return
    config = variant.apply(base)
    config.data.source = data
    config.data.train_domains = list(fold.train_domains)
    config.data.val_domains = list(fold.train_domains)
    config.train.seed = seed
    config.train.progress = progress
    run = folder / "run"
    start = time.perf_counter()
    if not (run / "train_summary.json").is_file():
        # A job killed during training resumes it; one killed before leaves a bare folder.
        resume = (run / "config.yaml").is_file()
        train_run(config, run, resume=resume)
    seconds = time.perf_counter() - start
    splits = list(fold.test_splits) if fold.test_splits else None
    pred = predict(
        run,
        data,
        folder / "pred",
        splits=splits,
        domains=[fold.test_domain],
        maps=[],
        save_probs=False,
        device=device_for(config.train.accelerator),
        overwrite=True,
        reuse=True,
        progress=False,
    ).out_dir
    result = evaluate(
        pred,
        data,
        folder / "eval.tmp.json",
        splits=splits,
        domains=[fold.test_domain],
        label_map=base.data.label_map,
        overwrite=True,
        progress=False,
    )
    result["train_seconds"] = seconds
    result["convergence"] = run_convergence(run, config.train.patience, config.train.min_delta)
    write_json(evaluation, result)
    (folder / "eval.tmp.json").unlink(missing_ok=True)
    folder.joinpath("eval.tmp.csv").replace(folder / "eval.csv")


def _collect(folds: list[Fold], variants: list[Variant], seeds: int, out: Path) -> dict:
    per_job = {}
    for fold in folds:
        for variant in variants:
            for seed in range(seeds):
                path = _job_dir(out, fold, variant, seed) / "eval.json"
                per_job[(fold.test_domain, variant.label, seed)] = json.loads(path.read_text())
    classes = list(next(iter(per_job.values()))["segmentation"]["per_class"])
    domains = [f.test_domain for f in folds]
    table: dict = {}
    for variant in variants:
        entry: dict = {"domains": {}, "average": {}}
        for metric in SEGMENTATION_METRICS:
            per_seed_avg = {cls: [] for cls in [*classes, "mean"]}
            for domain in domains:
                stats = {}
                for cls in classes:
                    values = [
                        class_means(per_job[(domain, variant.label, s)], metric)[cls]
                        for s in range(seeds)
                    ]
                    stats[cls] = mean_std(values)
                mean_over_classes = [
                    mean_std(class_means(per_job[(domain, variant.label, s)], metric).values())[
                        "mean"
                    ]
                    for s in range(seeds)
                ]
                stats["mean"] = mean_std(mean_over_classes)
                entry["domains"].setdefault(domain, {})[metric] = stats
            for s in range(seeds):
                for cls in [*classes, "mean"]:
                    values = []
                    for domain in domains:
                        cm = class_means(per_job[(domain, variant.label, s)], metric)
                        values.append(mean_std(cm.values())["mean"] if cls == "mean" else cm[cls])
                    per_seed_avg[cls].append(mean_std(values)["mean"])
            entry["average"][metric] = {cls: mean_std(v) for cls, v in per_seed_avg.items()}
        entry["train_seconds"] = mean_std(
            per_job[(d, variant.label, s)].get("train_seconds", float("nan"))
            for d in domains
            for s in range(seeds)
        )
        table[variant.label] = entry
    return {
        "protocol": "leave-one-domain-out",
        "domains": domains,
        "classes": classes,
        "seeds": seeds,
        "methods": table,
        # per (domain, method, seed): each test case's Dice, for paired tests between methods
        "case_dice": {
            domain: {
                variant.label: [
                    case_dice(per_job[(domain, variant.label, s)]) for s in range(seeds)
                ]
                for variant in variants
            }
            for domain in domains
        },
        "convergence": {
            domain: {
                variant.label: [
                    per_job[(domain, variant.label, s)].get("convergence") for s in range(seeds)
                ]
                for variant in variants
            }
            for domain in domains
        },
    }


def _write_tables(results: dict, out: Path, data: str) -> None:
    write_json(out / "results.json", results)
    rows = []
    for label, entry in results["methods"].items():
        for domain, metrics in [*entry["domains"].items(), ("average", entry["average"])]:
            for metric, per_class in metrics.items():
                for cls, stat in per_class.items():
                    rows.append(
                        {"method": label, "domain": domain, "metric": metric, "class": cls, **stat}
                    )
    write_csv(out / "results.csv", rows)
    domains, classes = results["domains"], results["classes"]
    parts = [
        f"# Leave-one-domain-out on `{data}`",
        f"{results['seeds']} seed(s); mean ± std over seeds; each column: the unseen domain.",
        "",
    ]
    for metric in SEGMENTATION_METRICS:
        for cls in ["mean", *classes]:
            header = ["method", *domains, "average"]
            body = [
                [label]
                + [fmt(e["domains"][d][metric][cls]) for d in domains]
                + [fmt(e["average"][metric][cls])]
                for label, e in results["methods"].items()
            ]
            title = "mean over classes" if cls == "mean" else cls
            parts += [
                f"## {metric.upper() if metric != 'dice' else 'Dice'} — {title}",
                "",
                markdown_table(header, body),
                "",
            ]
    text = "\n".join(parts)
    atomic_write((out / "results.md"), lambda tmp: tmp.write_text(text))
