"""One benchmark training, in this process or, on several devices, in a `seguq train` child.

Lightning's DDP launcher starts the other ranks by running the *command line* again with a
rank in the environment. Inside `seguq benchmark` that command is the whole benchmark, so a
multi-device training (`--devices N`, e.g. with `--strategy ddp`) runs as `seguq train
--config RUN.yaml --out RUN --no-plan`, the path `seguq train --devices N` itself takes, and the
benchmark goes on with the trained run. Under SLURM the child is told the job is interactive
(`SLURM_JOB_NAME=interactive`, Lightning's documented switch) so that Lightning launches the
ranks on the node itself instead of expecting one SLURM task per device.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from seguq.config import RunConfig, save_config
from seguq.engine.train import train
from seguq.errors import SeguqError


def train_run(config: RunConfig, run_dir: Path, *, resume: bool) -> None:
    """Train (or resume) the run in `run_dir`; its train_summary.json holds the outcome.

    Raises:
        SeguqError: the multi-device child failed (its last error line named).
    """
    if config.train.devices <= 1:
        train(config, run_dir, resume=resume, overwrite=not resume)
        return
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    config_file = run_dir.parent / f".{run_dir.name}.config.yaml"
    save_config(config, config_file)
    command = [sys.executable, "-m", "seguq.cli", "train", "--config", str(config_file)]
    command += ["--out", str(run_dir), "--no-plan", "--no-progress"]
    command.append("--resume" if resume else "--overwrite")
    environment = {**os.environ}
    if "SLURM_JOB_ID" in environment:
        environment["SLURM_JOB_NAME"] = "interactive"
    try:
        done = subprocess.run(
            command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
    finally:
        config_file.unlink(missing_ok=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit status {done.returncode}"
        raise SeguqError(
            f"{run_dir}: training on {config.train.devices} devices "
            f"({config.train.strategy}) failed: {last}"
        )
