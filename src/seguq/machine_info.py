"""What a measurement ran on: CPU model and capability, cores, threads, versions, load, GPU, and
which seguq (its git commit), written beside benchmark results so that a number can be traced."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import torch

import seguq


def describe_machine() -> dict:
    """The machine and the seguq being measured, as a JSON-ready dict."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": models[0] if models else platform.processor() or platform.machine(),
        "cores": cores,
        "torch_threads": torch.get_num_threads(),
        # what "--precision auto" chooses on a CPU: bf16-mixed only with AVX512-BF16 or AMX
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_bf16": bool(
            torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
        ),
        "cuda": torch.cuda.is_available(),
        "gpu": gpu,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "seguq": str(Path(seguq.__file__).parent),
        "git_commit": git_commit(),
    }


def git_commit() -> str:
    """The HEAD of the repository seguq is imported from (read only); for a copy made with
    `git archive` (no .git), $SEGUQ_GIT_COMMIT names it; "unknown" otherwise."""
    if os.environ.get("SEGUQ_GIT_COMMIT"):
        return os.environ["SEGUQ_GIT_COMMIT"]
    try:
        done = subprocess.run(
            ["git", "-C", str(Path(seguq.__file__).parent), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip() or "unknown"
