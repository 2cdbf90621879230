"""A case: one image (possibly several channel files) with 0..R annotator masks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from seguq.errors import SeguqError


@dataclass(frozen=True)
class Case:
    """One image of a data source.

    Attributes:
        id: unique identifier within its source (used for output file names).
        images: one path per input channel file (nnU-Net `_0000`, `_0001`, ...); usually one.
        masks: one path per annotator (0 when the case is unlabelled, R for R annotators).
        domain: site / scanner / dataset name ("" when the source has a single domain).
        split: "train", "val", "test", "fold1", ... ("" when unspecified).
    """

    id: str
    images: tuple[Path, ...]
    masks: tuple[Path, ...] = ()
    domain: str = ""
    split: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def image(self) -> Path:
        """The first image file (for display and for choosing the output format)."""
        return self.images[0]

    @property
    def mask(self) -> Path | None:
        """The first annotator's mask, or None for an unlabelled case."""
        return self.masks[0] if self.masks else None


def select_cases(
    cases: list[Case],
    *,
    splits: list[str] | None = None,
    domains: list[str] | None = None,
    source: str = "data",
) -> list[Case]:
    """Keep the cases in the given splits and domains.

    Args:
        cases: all cases of a source.
        splits: split names to keep (None keeps all).
        domains: domain names to keep (None keeps all).
        source: how to name the source in error messages.

    Returns:
        The selected cases, in their original order.

    Raises:
        SeguqError: a named split or domain does not exist, or the selection is empty.
    """
    known_domains = sorted({c.domain for c in cases})
    known_splits = sorted({c.split for c in cases})
    for name in domains or []:
        if name not in known_domains:
            raise SeguqError(
                f"{source}: unknown domain '{name}' (known: {', '.join(known_domains)})"
            )
    for name in splits or []:
        if name not in known_splits:
            raise SeguqError(f"{source}: unknown split '{name}' (known: {', '.join(known_splits)})")
    chosen = [
        c
        for c in cases
        if (not splits or c.split in splits) and (not domains or c.domain in domains)
    ]
    if not chosen:
        raise SeguqError(
            f"{source}: the selection (splits={splits or 'all'}, "
            f"domains={domains or 'all'}) is empty"
        )
    return chosen
