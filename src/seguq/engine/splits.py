"""Which labelled cases train and which validate, from the data config."""

from __future__ import annotations

import logging

import numpy as np

from seguq.config import RunConfig
from seguq.data.case import Case, select_cases
from seguq.data.sources import Source
from seguq.errors import SeguqError

log = logging.getLogger(__name__)


def split_cases(source: Source, config: RunConfig) -> tuple[list[Case], list[Case]]:
    """Training and validation cases from the data config.

    Training: `train_split` cases of `train_domains` (all domains when empty; a named domain
    without that split contributes all its labelled cases). Validation: the
    `val_split` cases of `val_domains` (default: the training domains) when the source has that
    split; otherwise a seeded `val_fraction` of the training cases is held out.

    Raises:
        SeguqError: unknown domains or splits, or an empty selection.
    """
    data = config.data
    labelled = [c for c in source.cases if c.masks]
    if not labelled:
        raise SeguqError(f"{source.name}: no case has a mask; training needs labelled data")
    splits = {c.split for c in labelled}
    train_split = [data.train_split] if data.train_split and data.train_split in splits else None
    if data.train_split and data.train_split not in splits and splits != {""}:
        raise SeguqError(
            f"{source.name}: unknown split '{data.train_split}' "
            f"(known: {', '.join(sorted(splits))})"
        )
    train = (
        select_cases(
            labelled, splits=train_split, domains=data.train_domains or None, source=source.name
        )
        if train_split is None or not data.train_domains
        else _named_domains(labelled, data, source)
    )
    val_domains = data.val_domains or data.train_domains or None
    if data.val_split and data.val_split in splits and data.val_split != data.train_split:
        val = select_cases(
            labelled, splits=[data.val_split], domains=val_domains, source=source.name
        )
        return train, val
    # Held out from the training cases of the validation domains; a validation domain that is
    # not trained on lends all its labelled cases (but never the "ood" split).
    val_pool = train
    if data.val_domains:
        select_cases(labelled, domains=data.val_domains, source=source.name)  # checks the names
        val_pool = [c for c in train if c.domain in data.val_domains] or [
            c for c in labelled if c.domain in data.val_domains and c.split != "ood"
        ]
    rng = np.random.default_rng(config.train.seed)
    n_val = max(1, round(data.val_fraction * len(val_pool))) if len(val_pool) > 1 else 0
    held = {val_pool[i].id for i in rng.choice(len(val_pool), size=n_val, replace=False)}
    val = [c for c in val_pool if c.id in held]
    train = [c for c in train if c.id not in held] or train
    if not val:
        log.warning(
            "%s: only one labelled training case; validation uses that same case, so the "
            "validation Dice and the OOD reference are optimistic",
            source.name,
        )
    return train, val or train[:1]


def _named_domains(labelled: list[Case], data, source: Source) -> list[Case]:
    """The `train_split` cases of each named training domain; a named domain without that split
    (e.g. CHASE_DB1 in the vessels manifest, which has no splits) contributes all its cases."""
    select_cases(labelled, domains=data.train_domains, source=source.name)  # checks the names
    chosen = []
    for domain in data.train_domains:
        cases = [c for c in labelled if c.domain == domain]
        in_split = [c for c in cases if c.split == data.train_split]
        chosen += in_split or cases
    return chosen
