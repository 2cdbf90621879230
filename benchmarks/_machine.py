"""What a benchmark ran on: CPU, cores, threads, versions, load, and the repository's HEAD."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import torch

import seguq

REPO = Path(__file__).resolve().parents[1]


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": models[0] if models else platform.processor() or platform.machine(),
        "cores": cores,
        "torch_threads": torch.get_num_threads(),
        # what "--precision auto" chooses on a CPU: bf16-mixed only with AVX512-BF16 or AMX
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_bf16": bool(
            torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
        ),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "seguq": str(Path(seguq.__file__).parent),
        "git_commit": _git_commit(),
    }


def _git_commit() -> str:
    """The repository's HEAD (read only), to tell which seguq was measured; for a copy made
    with `git archive` (no .git), $SEGUQ_GIT_COMMIT names it."""
    if os.environ.get("SEGUQ_GIT_COMMIT"):
        return os.environ["SEGUQ_GIT_COMMIT"]
    try:
        done = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"
