"""What a benchmark ran on: `seguq.machine_info.describe_machine` (CPU, cores, threads,
versions, load, and the repository's HEAD)."""

from __future__ import annotations

from seguq.machine_info import describe_machine


def machine() -> dict:
    return describe_machine()
