"""`seguq benchmark CONFIG.yaml`: the command-line side of a YAML protocol."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from seguq.benchmark.launchers import Cluster
from seguq.benchmark.protocol import load_protocol
from seguq.benchmark.runner import run_benchmark
from seguq.errors import SeguqError


def benchmark_protocol(args: argparse.Namespace, overrides: dict) -> dict:
    """Run the protocol file `args.protocol` (its run config updated with `overrides`), print
    the main table and write the report.

    Raises:
        SeguqError: a missing or bad protocol file, options that belong to `lodo`, bad data.
    """
    path = Path(args.protocol)
    if not path.is_file():
        raise SeguqError(f"{path}: protocol file not found (or use 'seguq benchmark lodo --data')")
    lodo_only = [
        f"--{n.replace('_', '-')}"
        for n in ("data", "config", "domains", "hold_out", "methods", "seeds", "test_split")
        if getattr(args, n) is not None
    ]
    if lodo_only:
        raise SeguqError(
            f"{path}: {', '.join(lodo_only)} belong to 'benchmark lodo'; set them "
            "in the protocol file"
        )
    protocol = load_protocol(path, data_root=args.data_root, overrides=overrides)
    results = run_benchmark(
        protocol,
        args.out,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        command=shlex.join(["seguq", *sys.argv[1:]]),
        jobs=args.jobs,
        launcher=args.launcher,
        cluster=Cluster(args.slurm_partition, args.slurm_timeout, args.slurm_gpus),
    )
    table = results["table"]
    print(" | ".join(table["columns"]))
    for row in table["rows"]:
        print(" | ".join(row))
    if not args.no_report and results.get("runs"):
        from seguq.report import write_report

        report = write_report(Path(args.out), overwrite=True)
        print(f"report: {report}")
    names = ("results.md", "results.csv", "results.json")
    print("tables: " + ", ".join(str(Path(args.out) / n) for n in names))
    return results
