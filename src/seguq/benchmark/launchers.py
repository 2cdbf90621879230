"""Where a benchmark's (method, seed) runs execute: processes on this machine, or SLURM jobs
submitted through submitit (an optional extra: `pip install -e ".[cluster]"`).

- "processes": `jobs` spawned processes at once on this machine (the default);
- "slurm": one SLURM job per run, all submitted at once (the cluster schedules them), with
  `cpus_per_task` threads each; the job folders (pickled calls, logs) go to `DIR/slurm/`, which
  must be on a file system the compute nodes share;
- "submitit-local": submitit's local executor, `jobs` at a time: the same code path as "slurm"
  without a cluster (what the tests use, and a check of a set-up before submitting).
A rerun of the same command resumes either way: every run skips the work it finds finished.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from seguq.errors import SeguqError

LAUNCHERS = ("processes", "slurm", "submitit-local")


@dataclass(frozen=True)
class Cluster:
    """SLURM settings of the "slurm" launcher."""

    partition: str = ""
    timeout_min: int = 720
    gpus: int = 0


def check_launcher(launcher: str) -> None:
    """Raises SeguqError for an unknown launcher."""
    if launcher not in LAUNCHERS:
        raise SeguqError(f"--launcher: expected one of {', '.join(LAUNCHERS)}, got '{launcher}'")


def run_submitit(
    launcher: str,
    function: Callable,
    calls: Sequence[tuple],
    folder: Path,
    jobs: int,
    threads: int,
    cluster: Cluster,
) -> list:
    """`function(*call)` for every call as submitit jobs; the results in the calls' order.

    Raises:
        SeguqError: submitit is not installed; a job failed (its error and log folder named).
    """
    try:
        import submitit
    except ImportError:
        raise SeguqError(
            f'--launcher {launcher} needs submitit: pip install -e ".[cluster]"'
        ) from None
    executor = submitit.AutoExecutor(
        folder=folder / "%j", cluster="slurm" if launcher == "slurm" else "local"
    )
    parameters = {"name": "seguq-benchmark", "timeout_min": cluster.timeout_min}
    parameters["cpus_per_task"] = threads
    if cluster.gpus:
        parameters["gpus_per_node"] = cluster.gpus
    if cluster.partition:
        parameters["slurm_partition"] = cluster.partition
    executor.update_parameters(**parameters)
    at_once = len(calls) if launcher == "slurm" else max(1, jobs)
    results = []
    for start in range(0, len(calls), at_once):
        submitted = [executor.submit(function, *call) for call in calls[start : start + at_once]]
        for job in submitted:
            try:
                results.append(job.result())
            except submitit.core.utils.UncompletedJobError as error:
                first = str(error).strip().splitlines()[0] if str(error).strip() else "no result"
                raise SeguqError(
                    f"benchmark job {job.job_id} failed ({first}); logs in {folder}"
                ) from error
    return results
