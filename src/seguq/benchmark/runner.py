"""`seguq benchmark CONFIG.yaml --out DIR`: train what is missing, predict, evaluate, tabulate.

Layout of DIR (paths in results.json are relative to it):

    protocol.yaml                      the protocol as read (a different one is refused)
    prepared/                          resized copies, middle slices, corrupted images
    sets/<set>.csv                     the cases of each set, absolute paths
    runs/<method>/seed<k>/             training runs
    predictions/<method>/seed<k>/<set>/   `seguq predict` folders
    evaluations/<method>/seed<k>/<set>.json
    results.json, results.csv, results.md, report.html, figures/

Every stage skips work already finished, so running the command again resumes. With `jobs` > 1
the (method, seed) trainings and their predictions run in that many processes at once on this
machine, the CPU threads split between them (a GPU is shared); the results are gathered in the
protocol's order, the same as one after another.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from seguq.benchmark.invocations import earlier_invocations, invocation
from seguq.benchmark.launchers import Cluster, check_launcher, run_submitit
from seguq.benchmark.protocol import Protocol, claim_output
from seguq.benchmark.sets import prepare_sets
from seguq.benchmark.stages import (
    HIERARCHICAL,
    evaluate_set,
    predict_set,
    sample_count,
    sample_diversity,
    score_columns,
    train_method,
)
from seguq.benchmark.summary import summarise, write_results
from seguq.benchmark.variants import Variant
from seguq.config import RunConfig, load_config
from seguq.devices import default_threads, device_for, set_threads
from seguq.engine.convergence import run_convergence
from seguq.engine.evaluate import read_scores
from seguq.engine.quiet import quiet_lightning
from seguq.errors import SeguqError
from seguq.metrics.ood import ood_scores
from seguq.progress import progress as progress_bar

OOD_ROLES = ("far_ood", "corrupt")


def folder_name(label: str) -> str:
    """A folder name for a variant label: `hue:beta=0.001` -> `hue__beta-0.001`."""
    name = label.replace(":", "__").replace("=", "-").replace(",", "_")
    return "".join(ch if ch.isalnum() or ch in "._+-" else "_" for ch in name)


def run_config(protocol: Protocol, variant: Variant, manifest: Path, seed: int) -> RunConfig:
    """The training config of one method and seed: the protocol's base config, its training
    selection and the variant's settings."""
    config = variant.apply(protocol.base)
    spec = protocol.train
    config.data.source = str(manifest)
    config.data.train_split = spec.get("split", config.data.train_split)
    config.data.train_domains = list(spec.get("domains") or [])
    config.data.val_domains = list(spec.get("val_domains") or [])
    if protocol.class_names:
        config.data.class_names = list(protocol.class_names)
    config.train.seed = seed
    return config


def run_benchmark(
    protocol: Protocol,
    out: Path,
    *,
    overwrite: bool = False,
    progress: bool = True,
    command: str | None = None,
    jobs: int = 1,
    launcher: str = "processes",
    cluster: Cluster | None = None,
) -> dict:
    """Run (or resume) a protocol and write results.json/.csv/.md (and the report).

    `jobs`: (method, seed) runs at once (YAML train/test protocols); `launcher`: where they run
    (`seguq.benchmark.launchers`: processes here, SLURM jobs, or submitit's local executor),
    `cluster` its SLURM settings.

    Raises:
        SeguqError: bad data or protocol; an output folder holding another protocol; jobs < 1;
            an unknown launcher.
    """
    if jobs < 1:
        raise SeguqError(f"--jobs: expected a positive number, got {jobs}")
    check_launcher(launcher)
    if protocol.protocol == "lodo":
        from seguq.benchmark.lodo_protocol import run_lodo_protocol

        return run_lodo_protocol(
            protocol, out, overwrite=overwrite, progress=progress, command=command
        )
    start = time.perf_counter()
    where = (jobs, launcher, cluster or Cluster())
    with claim_output(out, protocol, overwrite) as folder:
        return _run_protocol(protocol, folder, start, progress, command, where)


def _say(message: str) -> None:
    tqdm.write(f"[benchmark {time.strftime('%H:%M:%S')}] {message}")


def _quiet(message: str) -> None:
    del message


def _run_protocol(
    protocol: Protocol, out: Path, start: float, progress: bool, command: str | None, where: tuple
) -> dict:
    say = _say if progress else _quiet
    jobs, launcher, cluster = where
    manifest, sets = prepare_sets(protocol, out, say)
    todo = [(v, s) for v in protocol.variants for s in protocol.seeds]
    if launcher != "processes":
        # SLURM jobs run on their own nodes; local ones share this machine, `jobs` at a time
        threads = _threads_each(protocol, 1 if launcher == "slurm" else min(jobs, len(todo)))
        calls = [(protocol, v, s, manifest, sets, out, threads) for v, s in todo]
        say(f"{len(todo)} runs as submitit jobs ({launcher}), {threads} CPU threads each")
        runs = run_submitit(launcher, _run_in_process, calls, out / "slurm", jobs, threads, cluster)
    elif jobs > 1 and len(todo) > 1:
        runs = _run_parallel(protocol, todo, manifest, sets, out, jobs, say)
    else:
        runs = []
        bar = progress_bar(todo, "benchmark", "run", progress)
        for variant, seed in bar:
            bar.set_description(f"benchmark {variant.label} | seed {seed}")
            runs.append(_run_one(protocol, variant, seed, manifest, sets, out, say, progress))
    results = summarise(protocol, sets, runs)
    results["date"] = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    results["wall_seconds"] = time.perf_counter() - start
    results["command"] = command
    results["invocations"] = [*earlier_invocations(out), invocation(results)]
    write_results(out, results)
    say(f"wrote {out / 'results.md'}")
    return results


def _threads_each(protocol: Protocol, at_once: int) -> int:
    """CPU threads of each of `at_once` runs sharing a machine: the protocol's threads (or the
    free cores) split between them."""
    return max(1, (protocol.base.train.threads or default_threads()) // max(1, at_once))


def _run_parallel(
    protocol: Protocol,
    todo: list[tuple[Variant, int]],
    manifest: Path,
    sets: dict[str, dict],
    out: Path,
    jobs: int,
    say,
) -> list[dict]:
    """`_run_one` for every (variant, seed) in `jobs` processes; results in `todo`'s order."""
    workers = min(jobs, len(todo))
    threads = _threads_each(protocol, workers)
    say(f"{len(todo)} runs in {workers} processes, {threads} CPU threads each")
    context = multiprocessing.get_context("spawn")  # no forked torch or CUDA state
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {
            pool.submit(_run_in_process, protocol, v, s, manifest, sets, out, threads): (v, s)
            for v, s in todo
        }
        for future in as_completed(futures):
            variant, seed = futures[future]
            if future.exception() is None:
                say(f"finished {variant.label} seed {seed}")
        return [future.result() for future in futures]  # raises the first failure


def _run_in_process(
    protocol: Protocol,
    variant: Variant,
    seed: int,
    manifest: Path,
    sets: dict[str, dict],
    out: Path,
    threads: int,
) -> dict:
    """One run in a worker process, with `threads` CPU threads and no progress bars."""
    quiet_lightning()  # a spawned process starts without the command line's settings
    set_threads(threads)
    return _run_one(protocol, variant, seed, manifest, sets, out, _quiet, False, threads)


def _run_one(
    protocol: Protocol,
    variant: Variant,
    seed: int,
    manifest: Path,
    sets: dict[str, dict],
    out: Path,
    say,
    progress: bool,
    threads: int | None = None,
) -> dict:
    """Train one method with one seed, predict and evaluate every set (`threads`: CPU threads
    for both; None: the protocol's)."""
    folder = f"{folder_name(variant.label)}/seed{seed}"
    config = run_config(protocol, variant, manifest, seed)
    config.train.progress = progress
    if threads:
        config.train.threads = threads
    run_dir = out / "runs" / folder
    label = f"{variant.label} seed {seed}"
    trained = train_method(config, run_dir, label, say)
    saved = load_config(run_dir / "config.yaml")  # class names and label map filled in
    label_map, num_classes = saved.data.label_map, len(saved.data.class_names or [])
    record: dict = {
        "method": variant.label,
        "seed": seed,
        "run_dir": str(run_dir.relative_to(out)),
        "train_seconds": trained.get("seconds"),
        "train_reused": trained.get("reused", False),
        "convergence": trained.get("convergence")
        or run_convergence(run_dir, config.train.patience, config.train.min_delta),
        "sets": {},
    }
    test_scores: list[float] = []
    for name, info in sets.items():
        pred_dir = out / "predictions" / folder / name
        labelled = info["role"] not in OOD_ROLES
        ambiguous = info["role"] == "test" and len(info.get("annotators", [])) >= 2
        save = protocol.ambiguity_samples if ambiguous else 0
        say(f"predict {label} on {name} ({len(info['ids'])} cases)")
        timing = predict_set(
            run_dir,
            info["csv"],
            info["ids"],
            pred_dir,
            samples=protocol.samples,
            maps=protocol.maps if labelled else ["total"],
            save_probs=labelled,
            save_samples=save,
            per_level=labelled and variant.method in HIERARCHICAL,
            device=device_for(config.train.accelerator),
            threads=config.train.threads or None,
        )
        by_id = read_scores(pred_dir)
        scores = [by_id[i] for i in sorted(by_id)]  # id order: pairs the methods' scores
        entry: dict = {
            "pred_dir": str(pred_dir.relative_to(out)),
            "evaluation": None,
            "prediction": timing,
            "samples": sample_count(pred_dir),
            "scores": scores,
            "case_scores": score_columns(pred_dir),
        }
        if labelled:
            eval_file = out / "evaluations" / folder / f"{name}.json"
            say(f"evaluate {label} on {name}")
            entry.update(evaluate_set(pred_dir, info["csv"], eval_file, label_map))
            entry["evaluation"] = str(eval_file.relative_to(out))
        if save and num_classes:
            entry["diversity"] = sample_diversity(pred_dir, info["ids"], num_classes)
        if info["role"] == "test":
            test_scores = scores
        else:
            entry["ood"] = ood_scores(test_scores, scores)
        record["sets"][name] = entry
    return record
