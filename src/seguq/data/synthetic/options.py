"""The options of a synthetic data set, validated where they enter."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np

from seguq.errors import SeguqError

# Bump whenever a change to the generators changes the images or masks for the same options:
# cached data sets are keyed by it.
GENERATOR_VERSION = 1
MIN_SIDE = 32
MAX_SIDE = 2048
MAX_RATERS = 8
MAX_CASES = 100_000


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _parse_size_text(text: str) -> object:
    """ "128" -> 128 and "96x160" -> (96, 160), as a command line spells sizes; else unchanged."""
    parts = text.lower().split("x")
    if 1 <= len(parts) <= 2 and all(p.strip().isdigit() for p in parts):
        numbers = tuple(int(p) for p in parts)
        return numbers[0] if len(numbers) == 1 else numbers
    return text


def check_size(size: object) -> tuple[int, int]:
    """Validate an image size and return it as (H, W).

    Args:
        size: an int for a square, (height, width), or text "128" / "96x160".

    Raises:
        SeguqError: none of those forms, or a side outside MIN_SIDE..MAX_SIDE.
    """
    parsed = _parse_size_text(size) if isinstance(size, str) else size
    pair = (parsed, parsed) if _is_int(parsed) else parsed
    if (
        not isinstance(pair, (tuple, list))
        or len(pair) != 2
        or not all(_is_int(s) and MIN_SIDE <= s <= MAX_SIDE for s in pair)
    ):
        raise SeguqError(
            f"synthetic: size {size!r} must be an int, (height, width) or 'HxW' with sides in "
            f"{MIN_SIDE}..{MAX_SIDE}"
        )
    return int(pair[0]), int(pair[1])


def check_int(name: str, value: object, low: int, high: int) -> int:
    """Validate an integer option within low..high (inclusive) and return it as an int.

    Raises:
        SeguqError: not an int, or out of range.
    """
    if not _is_int(value) or not low <= value <= high:
        raise SeguqError(f"synthetic: {name} {value!r} must be an int in {low}..{high}")
    return int(value)


def check_bool(name: str, value: object) -> bool:
    """Validate a yes/no option (True/False, or "true"/"false" as a command line spells it).

    Raises:
        SeguqError: anything else.
    """
    text = {"true": True, "false": False}.get(value.lower()) if isinstance(value, str) else None
    if isinstance(value, bool | np.bool_) or text is not None:
        return bool(value) if text is None else text
    raise SeguqError(f"synthetic: {name} {value!r} must be true or false")


@dataclass(frozen=True)
class SyntheticOptions:
    """Everything that determines a synthetic data set (see generate_synthetic)."""

    seed: int = 0
    n_per_site: int = 20
    size: tuple[int, int] = (128, 128)
    n_raters: int = 3
    n_ood: int = 8
    hard: bool = False  # the unseen site4 shifted far harder (sites.HARD_SITE4)

    @classmethod
    def create(
        cls,
        *,
        seed: object = 0,
        n_per_site: object = 20,
        size: object = 128,
        n_raters: object = 3,
        n_ood: object = 8,
        hard: object = False,
    ) -> SyntheticOptions:
        """Validate raw option values and normalise them (size becomes (H, W)).

        Raises:
            SeguqError: a value of the wrong type or out of range.
        """
        return cls(
            seed=check_int("seed", seed, 0, 2**63 - 1),
            n_per_site=check_int("n_per_site", n_per_site, 1, MAX_CASES),
            size=check_size(size),
            n_raters=check_int("n_raters", n_raters, 1, MAX_RATERS),
            n_ood=check_int("n_ood", n_ood, 0, MAX_CASES),
            hard=check_bool("hard", hard),
        )

    def as_json(self) -> str:
        """The options and the generator version as canonical JSON."""
        record = {"generator_version": GENERATOR_VERSION, **asdict(self)}
        record["size"] = list(self.size)
        if not self.hard:
            del record["hard"]  # data sets of the usual mode keep their names
        return json.dumps(record, sort_keys=True)

    def key(self) -> str:
        """A short hash naming the data set these options (and this generator) produce."""
        return hashlib.sha256(self.as_json().encode()).hexdigest()[:12]


OPTION_NAMES = tuple(SyntheticOptions.__dataclass_fields__)
