"""The hardware a command runs on: CPU threads, the device, mixed precision, memory-sized chunks.

Decisions live here and nowhere below the engine: a method or a net never picks a device or a
thread count by itself.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import torch

from seguq.errors import SeguqError

# More threads than this rarely help a small network and hurt on shared machines.
MAX_DEFAULT_THREADS = 8
# The names a user may give -> Lightning's names (config_checks.PRECISIONS lists the same keys).
PRECISIONS = {
    "auto": "auto",
    "32": "32-true",
    "32-true": "32-true",
    "16": "16-mixed",
    "16-mixed": "16-mixed",
    "bf16": "bf16-mixed",
    "bf16-mixed": "bf16-mixed",
}


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity set)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def physical_cores() -> int:
    """Physical cores among the usable CPUs (hyper-threads counted once), from /proc/cpuinfo
    when it says; otherwise the usable CPUs."""
    cpus = usable_cpus()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return cpus
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    cores, processor, physical = set(), None, "0"
    for line in text.splitlines() + [""]:
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "processor":
            processor = int(value)
        elif key == "physical id":
            physical = value
        elif key == "core id" and (allowed is None or processor in allowed):
            cores.add((physical, value))
    return min(cpus, len(cores)) if cores else cpus


def busy_cpus(samples: int = 5, interval: float = 0.01) -> int:
    """CPUs other processes keep busy right now: the runnable tasks of /proc/stat (this one
    excluded), averaged over a few samples; the 1-minute load average where /proc is absent
    (it also counts work that just ended)."""
    counts = []
    for i in range(samples):
        try:
            text = Path("/proc/stat").read_text()
        except OSError:
            break
        running = [
            line.split()[1] for line in text.splitlines() if line.startswith("procs_running")
        ]
        if running:
            counts.append(int(running[0]) - 1)
        if i + 1 < samples:
            time.sleep(interval)
    if counts:
        return max(0, int(round(sum(counts) / len(counts))))
    return int(round(os.getloadavg()[0])) if hasattr(os, "getloadavg") else 0


def default_threads(processes: int = 1) -> int:
    """Torch threads that never oversubscribe: the physical cores that other work does not keep
    busy, capped, shared among `processes` (e.g. DDP ranks)."""
    cores = physical_cores()
    free = max(1, min(cores, usable_cpus() - busy_cpus()))
    return max(1, min(free, MAX_DEFAULT_THREADS) // max(1, processes))


def set_threads(threads: int | None, processes: int = 1) -> int:
    """Set torch's CPU threads (None or 0: `default_threads`); returns the number set.

    Raises:
        SeguqError: a negative count.
    """
    if threads is not None and threads < 0:
        raise SeguqError(f"--threads: expected a positive number, got {threads}")
    count = threads or default_threads(processes)
    torch.set_num_threads(count)
    return count


def resolve_device(spec: str | None) -> torch.device:
    """ "auto" (or None) -> the first GPU when there is one, else the CPU; "cpu"; "cuda";
    "cuda:N".

    Raises:
        SeguqError: an unknown name, or a GPU that is not there.
    """
    name = (spec or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        index = name.partition(":")[2]
        if not torch.cuda.is_available():
            raise SeguqError(f"--device {spec}: no CUDA GPU is available on this machine")
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise SeguqError(
                f"--device {spec}: no such GPU (this machine has {torch.cuda.device_count()})"
            )
        return torch.device(name)
    raise SeguqError(f"--device {spec}: expected auto, cpu, cuda or cuda:N")


def bf16_supported(device: torch.device) -> bool:
    """Fast bfloat16 on this device (a GPU that has it, or a CPU with AVX-512 BF16 or AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    return False


def resolve_precision(spec: str | None, device: torch.device) -> str:
    """A Lightning precision string. "auto": bf16 mixed precision where the device has fast
    bf16, fp16 mixed precision (with a gradient scaler) on other GPUs, else 32-bit.

    Raises:
        SeguqError: an unknown precision.
    """
    name = str(spec or "auto").strip().lower()
    if name not in PRECISIONS:
        raise SeguqError(f"--precision {spec}: expected one of auto, 32, bf16, 16")
    chosen = PRECISIONS[name]
    if chosen != "auto":
        return chosen
    if bf16_supported(device):
        return "bf16-mixed"
    return "16-mixed" if device.type == "cuda" else "32-true"


def accelerator_device(accelerator: str) -> torch.device:
    """The device Lightning's `accelerator` setting trains on (for choosing the precision)."""
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Autocast for inference under a resolved precision (a no-op for 32-bit)."""
    if precision == "bf16-mixed":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if precision == "16-mixed":
        return torch.autocast(device.type, dtype=torch.float16)
    return contextlib.nullcontext()


def chunk_for_memory(device: torch.device, bytes_per_item: float, cpu_chunk: int) -> int:
    """How many samples to decode at once: `cpu_chunk` on the CPU; on a GPU as many as half its
    free memory holds (1..64)."""
    if device.type != "cuda":
        return cpu_chunk
    free, _ = torch.cuda.mem_get_info(device)
    return int(max(1, min(64, 0.5 * free // max(1.0, bytes_per_item))))


def loader_workers(configured: int, device: torch.device) -> int:
    """Data-loading processes: `configured` when >= 0; else none when training on the CPU (its
    cores compute), and up to 8 beside a GPU (the augmentation would starve it)."""
    if configured >= 0:
        return configured
    return 0 if device.type == "cpu" else max(0, min(8, usable_cpus() - 1))


def accelerator_for(device: str | None) -> str:
    """The Lightning accelerator of a `--device` name (auto, cpu, cuda).

    Raises:
        SeguqError: cuda:N (training picks GPUs with --devices or CUDA_VISIBLE_DEVICES).
    """
    name = (device or "auto").strip().lower()
    if name in ("auto", "cpu"):
        return name
    if name == "cuda":
        return "gpu"
    if name.startswith("cuda:"):
        raise SeguqError(
            f"--device {device}: for training, choose the GPU with CUDA_VISIBLE_DEVICES"
        )
    raise SeguqError(f"--device {device}: expected auto, cpu, cuda or cuda:N")


def device_for(accelerator: str) -> str:
    """The `--device` name prediction uses after training with `accelerator`."""
    return {"cpu": "cpu", "gpu": "cuda", "cuda": "cuda"}.get(accelerator, "auto")
