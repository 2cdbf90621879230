"""The synthetic data set materialised once in a per-user cache folder and then reused."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from seguq.data.synthetic.options import OPTION_NAMES, SyntheticOptions
from seguq.data.synthetic.writer import MANIFEST, build_in_temp, discard, is_complete
from seguq.errors import SeguqError


def cache_root() -> Path:
    """$SEGUQ_CACHE_DIR if set and non-empty, else ~/.cache/seguq."""
    env = os.environ.get("SEGUQ_CACHE_DIR", "")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "seguq"


def synthetic_manifest(**options: object) -> Path:
    """The manifest of the synthetic data set with these options, generated on first use.

    The data set lives in `<cache>/synthetic/<key>/`, where <cache> is $SEGUQ_CACHE_DIR or
    ~/.cache/seguq and <key> is a short hash of the options and the generator version. A
    complete folder is reused as is. Concurrent callers are safe: each builds in a temporary
    sibling and renames it into place; a caller that loses the race uses the winner's folder.

    Args:
        **options: any of generate_synthetic's keywords: seed, n_per_site, size, n_raters,
            n_ood (defaults as there).

    Returns:
        The path of manifest.csv.

    Raises:
        SeguqError: an unknown option name, a bad option value, or an unwritable cache folder.
    """
    for name in options:
        if name not in OPTION_NAMES:
            raise SeguqError(
                f"synthetic: unknown option {name!r} (known: {', '.join(OPTION_NAMES)})"
            )
    resolved = SyntheticOptions.create(**options)
    target = cache_root() / "synthetic" / resolved.key()
    if is_complete(target):
        return target / MANIFEST
    temp = build_in_temp(target, resolved)
    for _ in range(2):
        try:
            os.rename(temp, target)  # fails when another process's folder is already there
            return target / MANIFEST
        except OSError:
            if is_complete(target):  # lost the race: use the winner's identical data
                shutil.rmtree(temp, ignore_errors=True)
                return target / MANIFEST
            discard(target)  # an incomplete leftover (e.g. copied by hand): clear it, retry
    shutil.rmtree(temp, ignore_errors=True)
    raise SeguqError(f"synthetic: cannot move the data set into the cache folder {target}")
