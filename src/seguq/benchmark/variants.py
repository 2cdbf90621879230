"""Method variants named on the command line: `name[:key=value,...]`.

`pixelwise:lambda_=2,T=5` is the pixelwise method with those options; the key `augment` sets the
data's intensity augmentation (`pixelwise:augment=domain`), `dropout` the U-Net's dropout.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

from seguq.config import RunConfig
from seguq.errors import SeguqError


@dataclass(frozen=True)
class Variant:
    """A method with settings; `label` is how tables name it."""

    label: str
    method: str
    options: dict = field(default_factory=dict)

    def apply(self, config: RunConfig) -> RunConfig:
        """A copy of `config` set up for this variant."""
        config = copy.deepcopy(config)
        config.method.name = self.method
        options = dict(self.options)
        if "augment" in options:
            config.data.intensity_augment = str(options.pop("augment"))
        if "dropout" in options:
            config.net.dropout = float(options.pop("dropout"))
        config.method.options = {**config.method.options, **options}
        return config


def _value(text: str):
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_variants(items: Sequence[str]) -> list[Variant]:
    """Variants from command-line items.

    An item without ':' may list several plain names separated by commas
    ("deterministic,pixelwise"); an item with ':' is one variant ("pixelwise:lambda_=2,T=5").

    Raises:
        SeguqError: an empty list or a malformed option.
    """
    variants: list[Variant] = []
    for item in items:
        if ":" not in item:
            variants += [
                Variant(name.strip(), name.strip()) for name in item.split(",") if name.strip()
            ]
            continue
        name, _, spec = item.partition(":")
        options = {}
        for pair in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise SeguqError(f"--methods: '{item}': expected name:key=value,... got '{pair}'")
            options[key.strip()] = _value(value.strip())
        variants.append(Variant(item, name.strip(), options))
    if not variants:
        raise SeguqError("--methods: no method given")
    labels = [v.label for v in variants]
    if len(set(labels)) != len(labels):
        raise SeguqError(f"--methods: a method is listed twice ({', '.join(labels)})")
    return variants
