"""Device, precision, thread and chunk choices (the logic runs on CPU-only machines too)."""

from __future__ import annotations

import pytest
import torch

from seguq import devices
from seguq.errors import SeguqError


def test_devices_by_name(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert devices.resolve_device("auto") == torch.device("cpu")
    assert devices.resolve_device(None) == torch.device("cpu")
    with pytest.raises(SeguqError, match="no CUDA GPU"):
        devices.resolve_device("cuda")
    with pytest.raises(SeguqError, match="expected auto, cpu, cuda or cuda:N"):
        devices.resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert devices.resolve_device("auto") == torch.device("cuda")
    assert devices.resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(SeguqError, match="no such GPU"):
        devices.resolve_device("cuda:2")


@pytest.mark.parametrize(
    ("device", "bf16", "spec", "expected"),
    [
        ("cpu", True, "auto", "bf16-mixed"),
        ("cpu", False, "auto", "32-true"),
        ("cuda", True, "auto", "bf16-mixed"),
        ("cuda", False, "auto", "16-mixed"),
        ("cuda", True, "32", "32-true"),
        ("cpu", True, "16", "16-mixed"),
        ("cpu", False, "bf16-mixed", "bf16-mixed"),
    ],
)
def test_precision_follows_the_device(monkeypatch, device, bf16, spec, expected):
    monkeypatch.setattr(devices, "bf16_supported", lambda d: bf16)
    assert devices.resolve_precision(spec, torch.device(device)) == expected


def test_unknown_precision():
    with pytest.raises(SeguqError, match="expected one of auto, 32, bf16, 16"):
        devices.resolve_precision("half", torch.device("cpu"))


@pytest.mark.parametrize(
    ("cores", "load", "processes", "expected"),
    [
        (2, 0.1, 1, 2),
        (2, 1.8, 1, 1),
        (2, 5.0, 1, 1),
        (16, 0.0, 1, 8),
        (8, 0.0, 2, 4),
        (4, 3.4, 2, 1),
    ],
)
def test_default_threads_never_oversubscribe(monkeypatch, cores, load, processes, expected):
    monkeypatch.setattr(devices, "physical_cores", lambda: cores)
    monkeypatch.setattr(devices, "usable_cpus", lambda: cores)
    monkeypatch.setattr(devices, "busy_cpus", lambda: round(load))
    assert devices.default_threads(processes) == expected


def test_set_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        assert devices.set_threads(1) == 1 and torch.get_num_threads() == 1
        monkeypatch.setattr(devices, "default_threads", lambda processes=1: 2)
        assert devices.set_threads(None) == 2
    finally:
        torch.set_num_threads(before)


def test_chunks_sized_to_free_memory(monkeypatch):
    assert devices.chunk_for_memory(torch.device("cpu"), 1e9, cpu_chunk=2) == 2
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (8e9, 16e9))
    assert devices.chunk_for_memory(torch.device("cuda"), 1e9, cpu_chunk=2) == 4
    assert devices.chunk_for_memory(torch.device("cuda"), 1e6, cpu_chunk=2) == 64
    assert devices.chunk_for_memory(torch.device("cuda"), 1e12, cpu_chunk=2) == 1


def test_accelerators_and_devices_match():
    assert devices.accelerator_for("cuda") == "gpu" and devices.device_for("gpu") == "cuda"
    assert devices.accelerator_for(None) == "auto" and devices.device_for("cpu") == "cpu"
    with pytest.raises(SeguqError, match="CUDA_VISIBLE_DEVICES"):
        devices.accelerator_for("cuda:1")


def test_physical_cores_is_at_most_the_usable_cpus():
    assert 1 <= devices.physical_cores() <= devices.usable_cpus()
    assert devices.busy_cpus() >= 0


def test_predict_records_device_and_precision(trained_run, tiny_manifest, tmp_path, cli_error):
    import json

    from seguq.engine.predict import predict

    predict(
        trained_run, tiny_manifest, tmp_path / "p", splits=["test"], precision="32", progress=False
    )
    info = json.loads((tmp_path / "p" / "prediction.json").read_text())
    assert info["device"] == "cpu" and info["precision"] == "32-true"
    if not torch.cuda.is_available():
        err = cli_error(
            [
                "predict",
                "--model",
                trained_run,
                "--input",
                tiny_manifest,
                "--out",
                tmp_path / "q",
                "--device",
                "cuda",
            ]
        )
        assert "no CUDA GPU" in err and not (tmp_path / "q").exists()
    err = cli_error(
        ["train", "--data", tiny_manifest, "--out", tmp_path / "r", "--precision", "half"]
    )
    assert "train.precision" in err or "--precision" in err
