"""kill -9 during training, `--resume`: the final weights and the whole metrics history equal an
uninterrupted run's; unusable resume checkpoints are one-line errors."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import torch

from seguq.engine.checkpoint import read_checkpoint


def _argv(manifest, out, method="deterministic", epochs=4):
    return [
        sys.executable,
        "-m",
        "seguq.cli",
        "train",
        "--data",
        str(manifest),
        "--out",
        str(out),
        "--method",
        method,
        "--epochs",
        str(epochs),
        "--steps-per-epoch",
        "2",
        "--patch-size",
        "32",
        "32",
        "--batch-size",
        "2",
        "--train-domains",
        "site1,site2",
        "--threads",
        "1",
        "--no-progress",
    ]


def _epochs_logged(out) -> int:
    path = out / "logs" / "metrics.csv"
    try:
        with path.open() as handle:
            return sum(1 for row in csv.DictReader(handle) if row.get("train_loss"))
    except (OSError, csv.Error):
        return 0


def _kill_after(argv, out, epochs: int, *, checkpoint: bool = False, timeout: float = 120):
    """Start a training and kill -9 it once `epochs` epochs are in its log (and, with
    `checkpoint`, its resume checkpoint is written)."""
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    resume = out / "checkpoints" / "resume.ckpt"
    while _epochs_logged(out) < epochs or (checkpoint and not resume.is_file()):
        assert process.poll() is None, "training ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def _state(out):
    return read_checkpoint(out / "checkpoints" / "last.pt")["state_dict"]


def test_killed_twice_and_resumed_equals_uninterrupted(tiny_manifest, tmp_path):
    method = "hue"  # random latents, dropout-like draws and patches: every stream must restart
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(_argv(tiny_manifest, whole, method), check=True, capture_output=True)
    _kill_after(_argv(tiny_manifest, killed, method), killed, epochs=1)
    resume = [*_argv(tiny_manifest, killed, method), "--resume"]
    _kill_after(resume, killed, epochs=2)  # killed again while resuming
    subprocess.run(resume, check=True, capture_output=True)
    expected, found = _state(whole), _state(killed)
    assert expected.keys() == found.keys()
    for key in expected:
        torch.testing.assert_close(found[key], expected[key], rtol=0, atol=1e-6)
    assert (killed / "logs" / "metrics.csv").read_text() == (
        whole / "logs" / "metrics.csv"
    ).read_text()


def test_unusable_resume_checkpoints_are_one_line_errors(tiny_manifest, tmp_path, cli_error):
    run = tmp_path / "run"
    _kill_after(_argv(tiny_manifest, run, epochs=6), run, epochs=1, checkpoint=True)
    argv = [str(a) for a in _argv(tiny_manifest, run, epochs=6)[3:]]
    err = cli_error(argv)  # without --resume: says that it exists
    assert "holds an interrupted run" in err and "--resume" in err
    ckpt = run / "checkpoints" / "resume.ckpt"
    good = ckpt.read_bytes()
    ckpt.write_bytes(good[: len(good) // 2])
    assert "not a readable resume checkpoint" in cli_error([*argv, "--resume"])
    payload = torch.load(_write(tmp_path / "other.ckpt", good), weights_only=True)
    payload["state_dict"] = {"method.net.other.weight": torch.zeros(3)}
    torch.save(payload, ckpt)
    assert "holds the weights of another network" in cli_error([*argv, "--resume"])


def _write(path, data: bytes):
    path.write_bytes(data)
    return path
