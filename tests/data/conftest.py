"""Shared fixtures for the data tests: where the real data lives, small file writers."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

# <repo>/tests/data/conftest.py -> <repo>/../shared/data (read-only; never copied into the repo)
SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The real data folder, or skip when it is absent (e.g. on a user's machine)."""
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA.resolve()


class Writers:
    """Tiny helpers that write test files (each returns the path written)."""

    @staticmethod
    def png(path: Path, array: np.ndarray) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(array)).save(path)
        return path

    @staticmethod
    def nifti(path: Path, array: np.ndarray, affine: np.ndarray | None = None) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(np.asarray(array), np.eye(4) if affine is None else affine), path)
        return path

    @staticmethod
    def text(path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path


@pytest.fixture
def write() -> type[Writers]:
    """File writers for test data made in tmp_path."""
    return Writers


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
