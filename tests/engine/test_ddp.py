"""DDP smoke test: two CPU processes (gloo) train a few steps through the command line."""

import subprocess
import sys

import torch


def test_two_process_ddp_training(tiny_manifest, tmp_path):
    run = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "seguq.cli",
        "train",
        "--data",
        str(tiny_manifest),
        "--out",
        str(run),
        "--epochs",
        "1",
        "--steps-per-epoch",
        "2",
        "--patch-size",
        "32",
        "32",
        "--devices",
        "2",
        "--strategy",
        "ddp",
        "--no-progress",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("trained deterministic") == 1  # only rank 0 reports
    payload = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    assert payload["config"]["train"]["devices"] == 2
    assert (run / "ood_reference.json").is_file()
