"""A case's region of interest: the pixels its metrics count (a fundus camera's field of view).
CSV manifests give it in a column `roi` (or `fov`, the retinal-imaging name); other layouts have
none."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seguq.data.case import Case
from seguq.data.io import read_mask
from seguq.errors import SeguqError

COLUMNS = ("roi", "fov")


def region_of_interest(case: Case, root: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """bool `shape` (True inside), or None when the case has no region of interest.

    Args:
        case: the case (its `extra` holds the manifest's other columns).
        root: the folder the manifest's paths are relative to.
        shape: the case's spatial shape.

    Raises:
        SeguqError: the file cannot be read or its shape differs from the case's.
    """
    cell = next((case.extra.get(c) for c in COLUMNS if case.extra.get(c)), None)
    if not cell:
        return None
    path = Path(root) / cell
    values, _ = read_mask(path)
    if tuple(values.shape) != tuple(shape):
        raise SeguqError(
            f"{path}: region of interest of shape {tuple(values.shape)}, the case is {tuple(shape)}"
        )
    return values > 0
