"""The invocations behind a benchmark's results.json: a benchmark resumed or summarised again in
the same folder adds one (date, wall time, command), so that the wall times add up."""

from __future__ import annotations

import json
from pathlib import Path


def invocation(results: dict) -> dict:
    """This invocation's record, from the results it is about to write."""
    return {k: results.get(k) for k in ("date", "wall_seconds", "command")}


def earlier_invocations(out: Path) -> list[dict]:
    """The finished invocations recorded by an earlier results.json in `out` ([] without one)."""
    try:
        earlier = json.loads((out / "results.json").read_text())
    except (OSError, ValueError):
        return []
    return list(earlier.get("invocations") or [invocation(earlier)])
