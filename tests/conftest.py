"""Shared fixtures: the real-data folder (skipped when absent) and a tiny trained synthetic run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# One thread: the tests' tensors are tiny, and two threads on a busy 2-core machine thrash.
torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the repository; the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_manifest(tmp_path_factory) -> Path:
    """Tiny synthetic four-site data (64x64, 5 cases per site, 2 raters, 2 OOD of each kind)."""
    from seguq.data.synthetic import generate_synthetic

    folder = tmp_path_factory.mktemp("synthetic") / "data"
    return generate_synthetic(folder, seed=0, n_per_site=5, size=64, n_raters=2, n_ood=2)


def tiny_config(manifest: Path, method: str = "deterministic", **train):
    """A run config small enough to train in seconds."""
    from seguq.config import RunConfig

    config = RunConfig()
    config.data.source = str(manifest)
    config.data.train_domains = ["site1", "site2", "site3"]
    config.data.patch_size = [32, 32]
    config.data.batch_size = 4
    config.net.widths = [8, 16, 32]
    config.method.name = method
    config.method.members = 2
    config.train.epochs = train.pop("epochs", 2)
    config.train.steps_per_epoch = train.pop("steps_per_epoch", 3)
    config.train.progress = False
    for key, value in train.items():
        setattr(config.train, key, value)
    return config


@pytest.fixture(scope="session")
def make_config():
    """The `tiny_config` factory, for tests that build their own runs."""
    return tiny_config


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, tiny_manifest) -> Path:
    """A deterministic run trained for two short epochs on the tiny synthetic data."""
    from seguq.engine.train import train

    out = tmp_path_factory.mktemp("runs") / "det"
    train(tiny_config(tiny_manifest), out)
    return out
