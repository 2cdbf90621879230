"""Prediction speed and peak memory of every registered method on one U-Net (benchmark, not test).

Each (method, S) pair is timed with `method.sample(x, S)` under `torch.no_grad()`: warm-up runs,
then the median of `--repeats` timed runs. Weights are random: speed does not depend on training.
On CPU each measurement runs in a fresh subprocess (this script with the hidden `--one` flag) so
that its peak RSS is its own; on CUDA the allocator's peak counter is reset instead.

    python benchmarks/speed.py   # every method, S = 1, 8, 16, 256x256; see benchmarks/README.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from seguq.config import RunConfig
from seguq.methods import build_method, method_names

IN_CHANNELS = 3  # C
NUM_CLASSES = 3  # K
TRAIN_BATCH, TRAIN_SIZE = 4, 128  # the --training-step batch: (4, C, 128, 128)


def core_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return models[0] if models else platform.processor() or platform.machine()


def build(name: str, args: argparse.Namespace) -> torch.nn.Module:
    """The method `name` on the default U-Net (or `--widths`), randomly initialised (seed 0)."""
    config = RunConfig()
    config.method.name = name
    config.method.members = args.members
    if args.widths:
        config.net.widths = args.widths
    torch.manual_seed(0)
    return build_method(config, IN_CHANNELS, NUM_CLASSES).to(args.device)


def timed_runs(fn: Callable[[], None], args: argparse.Namespace, warmup: int) -> list[float]:
    """Wall times (s) of `args.repeats` runs of `fn` after `warmup` untimed runs."""
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def measure(name: str, s: int, args: argparse.Namespace) -> dict:
    """Time `sample(x, s)` for one method in this process; peak memory over model + input."""
    method = build(name, args).eval()
    x = torch.randn(args.batch, IN_CHANNELS, args.size, args.size, device=args.device)
    if args.device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
        base = resident_pages * os.sysconf("SC_PAGE_SIZE")  # RSS now: model + input built
    produced = {}

    def predict() -> None:
        with torch.no_grad():
            produced["S"] = method.sample(x, s).shape[0]

    times = timed_runs(predict, args, args.warmup)
    seconds = statistics.median(times)
    if args.device == "cuda":
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return {
        "method": name,
        "S": s,
        "effective_S": produced["S"],
        "images_per_s": args.batch / seconds,
        "ms_per_image": 1000 * seconds / args.batch,
        "peak_mib": max(peak - base, 0) / 2**20,
        "ms_min": 1000 * min(times) / args.batch,
        "ms_max": 1000 * max(times) / args.batch,
    }


def measure_isolated(name: str, s: int, args: argparse.Namespace) -> dict:
    """`measure` in a fresh interpreter, so that ru_maxrss is this measurement's alone."""
    command = [sys.executable, __file__, "--one", f"{name}:{s}"]
    for option in ("device", "size", "batch", "members", "repeats", "warmup", "threads", "widths"):
        value = getattr(args, option)
        if value is not None:  # --widths is a list, the rest are scalars
            text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            command += [f"--{option}", text]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"measuring {name} at S={s} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def training_step_ms(name: str, args: argparse.Namespace) -> float | str:
    """Median ms of one optimiser step on a (4, C, 128, 128) batch, or why there is none."""
    method = build(name, args).train()
    shape = (TRAIN_BATCH, TRAIN_SIZE, TRAIN_SIZE)
    batch = {
        "image": torch.randn(TRAIN_BATCH, IN_CHANNELS, *shape[1:], device=args.device),
        "label": torch.randint(0, NUM_CLASSES, shape, device=args.device),
    }
    optimiser = torch.optim.Adam(method.parameters(), lr=1e-3)

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        loss, _ = method.loss(batch)
        loss.backward()
        optimiser.step()

    try:
        step()  # the first warm-up run, and the check that this method trains as one model
    except Exception as error:  # reported in the table, not hidden
        if method.member_count > 1 or method.member_method:
            return "trained as members"
        return f"loss raised {type(error).__name__}"
    return 1000 * statistics.median(timed_runs(step, args, max(args.warmup - 1, 0)))


def positive_ints(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        message = f"expected comma-separated integers, got '{text}'"
        raise argparse.ArgumentTypeError(message) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got '{text}'")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_device = "cuda" if torch.cuda.is_available() else "cpu"
    parser.add_argument("--device", choices=["cpu", "cuda"], default=default_device)
    parser.add_argument("--size", type=int, default=256, help="image height = width (default 256)")
    parser.add_argument("--samples", type=positive_ints, default=[1, 8, 16], help="S values")
    parser.add_argument("--methods", default="", help="comma list (default: every registered one)")
    parser.add_argument("--widths", type=positive_ints, default=None, help="U-Net widths")
    parser.add_argument("--members", type=int, default=5, help="ensemble size (default 5)")
    parser.add_argument("--batch", type=int, default=1, help="images per call (default 1)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (median; default 5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    parser.add_argument("--threads", type=int, default=core_count(), help="torch threads")
    parser.add_argument("--json", type=Path, default=None, help="also save the rows here")
    parser.add_argument("--training-step", action="store_true", help="also time a training step")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # "method:S", internal
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    for option in ("size", "members", "batch", "repeats", "threads"):
        if getattr(args, option) < 1:
            parser.error(f"--{option}: expected a positive integer, got {getattr(args, option)}")
    known = method_names()
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()] or known
    unknown = [m for m in args.methods if m not in known]
    if unknown:
        parser.error(f"--methods: unknown {', '.join(unknown)} (known: {', '.join(known)})")
    return args


def ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}×"


def table(rows: list[dict], with_training: bool) -> str:
    head = ["method", "S", "effective S", "images/s", "ms/image", "peak memory (MiB)"]
    head += ["time × deterministic S=1"]
    head += ["train step (ms)", "train × deterministic"] if with_training else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["method"], r["S"], r["effective_S"], f"{r['images_per_s']:.2f}"]
        cells += [f"{r['ms_per_image']:.1f}", f"{r['peak_mib']:.1f}", ratio(r["relative"])]
        if with_training:
            train = r["train_step_ms"]
            cells += [f"{train:.1f}" if isinstance(train, float) else train]
            cells += [ratio(r["train_relative"])]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)


def report(args: argparse.Namespace, rows: list[dict], machine: dict) -> str:
    """Machine and setup, the table, and a footer saying how the columns were measured."""
    m, size = machine, f"{args.size}x{args.size}"
    memory = (
        "torch.cuda.max_memory_allocated after reset_peak_memory_stats, minus the memory allocated "
        "for the model and input"
        if args.device == "cuda"
        else "increase of peak RSS (getrusage ru_maxrss, KiB on Linux) over the RSS after building "
        "the model and input, each (method, S) in a fresh subprocess"
    )
    lines = [
        f"Machine: {m['cpu']} | {m['cores']} cores | {m['threads']} torch threads | "
        f"torch {m['torch']} | device: {m['device']} | 1-min load average {m['load']:.2f} at start",
        f"Setup: U-Net widths {args.widths}, C={IN_CHANNELS}, K={NUM_CLASSES}, {size}, "
        f"batch {args.batch}, ensemble members {args.members}; {args.warmup} warm-up runs, then "
        f"the median of {args.repeats} timed runs of method.sample(x, S) under torch.no_grad(). "
        "Weights are random: speed does not depend on training.",
        "",
        table(rows, args.training_step),
        "",
        f"Peak memory: {memory}; warm-up runs included. effective S: the samples the method "
        "really produced (deterministic 1, ensemble = its members, tta = its transforms). "
        "time × deterministic S=1: ms/image over that of the deterministic pass at S=1.",
    ]
    if args.training_step:
        lines.append(
            f"Training step: forward + backward + Adam step via method.loss(batch) on a batch of "
            f"{TRAIN_BATCH} at {TRAIN_SIZE}x{TRAIN_SIZE}, median ms, relative to deterministic."
        )
    noisy = [f"{r['method']} S={r['S']}" for r in rows if r["ms_max"] > 1.5 * r["ms_min"]]
    if noisy or m["load"] > 0.5:
        lines.append(
            f"Warning: the CPU was shared (load average {m['load']:.2f} at start) or timed runs "
            f"varied by over 1.5x ({', '.join(noisy) or 'none'}): timings may be inflated; rerun "
            "on an idle machine (per-row min/max ms in --json)."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.one:  # internal: one measurement, printed as JSON for the parent process
        name, s = args.one.rsplit(":", 1)
        print(json.dumps(measure(name, int(s), args)))
        return
    started = time.perf_counter()
    device = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    machine = {"cpu": cpu_model(), "cores": core_count(), "threads": args.threads}
    machine |= {"torch": torch.__version__, "device": device, "load": os.getloadavg()[0]}
    run_one = measure_isolated if args.device == "cpu" else measure
    rows = [run_one(name, s, args) for name in args.methods for s in args.samples]
    reference = next((r for r in rows if r["method"] == "deterministic" and r["S"] == 1), None)
    for r in rows:
        r["relative"] = r["ms_per_image"] / reference["ms_per_image"] if reference else None
    if args.training_step:
        train = {name: training_step_ms(name, args) for name in args.methods}
        base = train.get("deterministic")
        for r in rows:
            r["train_step_ms"] = train[r["method"]]
            both = isinstance(r["train_step_ms"], float) and isinstance(base, float)
            r["train_relative"] = r["train_step_ms"] / base if both else None
    args.widths = args.widths or RunConfig().net.widths
    print(report(args, rows, machine))
    wall = time.perf_counter() - started
    print(f"Wall time: {wall:.0f} s")
    if args.json:
        setup = {k: v for k, v in vars(args).items() if k not in ("json", "one")}
        payload = {"machine": machine, "setup": setup, "rows": rows, "wall_s": wall}
        args.json.write_text(json.dumps(payload, indent=2, default=str))
        print(f"Rows saved to {args.json}")


if __name__ == "__main__":
    main()
