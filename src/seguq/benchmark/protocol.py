"""A benchmark protocol read from YAML: data, split or domain protocol, OOD sets, methods, budget.

name: cxr
data_root: ../../../shared/data   # relative to this file; `--data-root` overrides
sources:                          # name -> path under data_root, or a dict
  jsrt: {path: cxr_jsrt/manifest.csv, resize: 256}
  hippocampus: {path: hippocampus_msd/imagesTr, kind: middle_slices, volumes: 40, resize: 256}
  hippocampus3d: {path: hippocampus_msd, kind: msd, test_fraction: 0.2, seed: 0}  # in place
  synthetic: {kind: synthetic, seed: 0, n_per_site: 20, size: 128, n_raters: 3, n_ood: 20}
protocol: train_test              # or lodo
train: {source: jsrt, split: fold1, domains: [], val_domains: []}
test: {source: jsrt, splits: [fold2], max_cases: 60}
shifted: {CHASEDB1: {source: vessels, domains: [CHASEDB1]}}   # labelled, shifted sites
far_ood: {us_hc18: {source: us_hc18, max_cases: 40}}           # scores only
corrupt: {}                                                     # corrupted sets in the data
corruptions: {kinds: [blur, noise, patch], strengths: [1, 2], max_cases: 20}
lodo: {source: fundus, domains: null, test_split: test}        # protocol: lodo only
class_names: [background, lung]
methods: [deterministic, mc_dropout, "hue:beta=1"]
seeds: 2                          # or a list [0, 1]
samples: null                     # S at prediction (null: each method's own)
ambiguity_samples: 16             # sampled masks saved per test case with >= 2 annotators
maps: [total, aleatoric, epistemic]
config: {data: {patch_size: [128, 128]}, train: {epochs: 10, steps_per_epoch: 30}}
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from seguq.benchmark.corruptions import CORRUPTIONS
from seguq.benchmark.variants import Variant, parse_variants
from seguq.config import RunConfig, load_config, merge_nested
from seguq.data.io import atomic_write
from seguq.engine.output_folder import resumable_output
from seguq.errors import SeguqError
from seguq.methods import method_names

PROTOCOLS = ("train_test", "lodo")
SET_GROUPS = ("shifted", "far_ood", "corrupt")
KEYS = {
    "name", "description", "data_root", "work", "sources", "protocol", "train", "test",
    "shifted", "far_ood", "corrupt", "corruptions", "lodo", "class_names", "methods", "seeds",
    "samples", "ambiguity_samples", "maps", "config",
}  # fmt: skip
SOURCE_KINDS = ("manifest", "middle_slices", "synthetic", "msd")


@dataclass
class Protocol:
    """A parsed benchmark protocol; `raw` is the YAML as read (saved beside the results)."""

    name: str
    path: Path
    data_root: Path
    work: Path | None
    sources: dict[str, dict]
    protocol: str
    train: dict
    test: dict
    sets: dict[str, dict]  # name -> {"role": shifted|far_ood|corrupt, "source", ...}
    corruptions: dict
    lodo: list[dict]  # one leave-one-domain-out study per source
    class_names: list[str] | None
    variants: list[Variant]
    seeds: list[int]
    samples: int | None
    ambiguity_samples: int
    maps: list[str]
    base: RunConfig
    raw: dict = field(repr=False, default_factory=dict)


def _fail(path: Path, message: str) -> SeguqError:
    return SeguqError(f"{path}: {message}")


def _source_spec(path: Path, name: str, value) -> dict:
    spec = {"path": value} if isinstance(value, str) else dict(value or {})
    kind = spec.setdefault("kind", "manifest" if "path" in spec else "synthetic")
    if kind not in SOURCE_KINDS:
        raise _fail(path, f"source '{name}': unknown kind '{kind}' (known: {SOURCE_KINDS})")
    if kind != "synthetic" and not spec.get("path"):
        raise _fail(path, f"source '{name}': needs a 'path'")
    return spec


def _seeds(path: Path, value) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return list(range(value))
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return list(dict.fromkeys(value))
    raise _fail(path, f"seeds: expected a positive count or a list of integers, got {value!r}")


def _selection(path: Path, where: str, value, sources: dict) -> dict:
    spec = dict(value or {})
    unknown = set(spec) - {"source", "split", "splits", "domains", "val_domains", "max_cases"}
    if unknown:
        raise _fail(path, f"{where}: unknown keys {sorted(unknown)}")
    if spec.get("source") not in sources:
        raise _fail(path, f"{where}: source {spec.get('source')!r} is not in 'sources'")
    return spec


def _corruptions(path: Path, value) -> dict:
    spec = {"kinds": [], "strengths": [1.0], "max_cases": None, **(value or {})}
    bad = [k for k in spec["kinds"] if k not in CORRUPTIONS]
    if bad or set(spec) - {"kinds", "strengths", "max_cases"}:
        raise _fail(path, f"corruptions: expected kinds among {CORRUPTIONS}, strengths, max_cases")
    if not all(isinstance(s, int | float) and s > 0 for s in spec["strengths"]):
        raise _fail(
            path, f"corruptions: strengths must be positive numbers, got {spec['strengths']}"
        )
    return spec


def load_protocol(
    path: Path, data_root: Path | None = None, overrides: dict | None = None
) -> Protocol:
    """Read and check a protocol file.

    Args:
        path: the YAML file.
        data_root: overrides the file's `data_root` (paths of real sources are relative to it).
        overrides: nested run-config values that win over the file's `config` (e.g. a smaller
            budget from the command line); they become part of the protocol as saved.

    Raises:
        SeguqError: an unreadable file, unknown keys, sources, methods or set names.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise _fail(path, f"cannot read the protocol ({error})") from None
    if not isinstance(raw, dict):
        raise _fail(path, "expected a mapping of protocol keys")
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise _fail(path, f"unknown keys {unknown} (known: {', '.join(sorted(KEYS))})")
    if overrides:
        raw["config"] = merge_nested(raw.get("config") or {}, overrides)
    root = data_root or (path.parent / raw.get("data_root", ".")).resolve()
    sources = {n: _source_spec(path, n, v) for n, v in (raw.get("sources") or {}).items()}
    kind = raw.get("protocol", "train_test")
    if kind not in PROTOCOLS:
        raise _fail(path, f"protocol: unknown '{kind}' (known: {', '.join(PROTOCOLS)})")
    train: dict = {}
    test: dict = {}
    lodo: list[dict] = []
    sets: dict[str, dict] = {}
    if kind == "train_test":
        train = _selection(path, "train", raw.get("train"), sources)
        test = _selection(path, "test", raw.get("test"), sources)
        for role in SET_GROUPS:
            for name, value in (raw.get(role) or {}).items():
                if name in sets or name == "test":
                    raise _fail(path, f"{role}: set name '{name}' is used twice")
                sets[name] = {"role": role, **_selection(path, f"{role}.{name}", value, sources)}
    else:
        value = raw.get("lodo") or {}
        lodo = [dict(v) for v in (value if isinstance(value, list) else [value])]
        for spec in lodo:
            if spec.get("source") not in sources:
                raise _fail(path, f"lodo: source {spec.get('source')!r} is not in 'sources'")
            if set(spec) - {"source", "domains", "test_split"}:
                raise _fail(path, "lodo: expected source, domains, test_split")
    try:
        variants = parse_variants([str(m) for m in raw.get("methods") or ["deterministic"]])
        base = load_config(None, raw.get("config") or {})
    except SeguqError as error:
        raise _fail(path, str(error)) from None
    unknown_methods = [v.method for v in variants if v.method not in method_names()]
    if unknown_methods:
        raise _fail(path, f"methods: unknown {unknown_methods} (known: {method_names()})")
    work = raw.get("work")
    return Protocol(
        name=str(raw.get("name") or path.stem),
        path=path.resolve(),
        data_root=Path(root),
        work=(path.parent / work).resolve() if work else None,
        sources=sources,
        protocol=kind,
        train=train,
        test=test,
        sets=sets,
        corruptions=_corruptions(path, raw.get("corruptions")),
        lodo=lodo,
        class_names=raw.get("class_names"),
        variants=variants,
        seeds=_seeds(path, raw.get("seeds", 1)),
        samples=raw.get("samples"),
        ambiguity_samples=int(raw.get("ambiguity_samples", 16)),
        maps=list(raw.get("maps") or ["total", "aleatoric", "epistemic"]),
        base=base,
        raw=raw,
    )


@contextmanager
def claim_output(out: Path, protocol: Protocol, overwrite: bool) -> Iterator[Path]:
    """Create, continue or (with `overwrite`) replace the benchmark folder `out` for
    `protocol` (its `protocol.yaml`); marked complete when the block ends without error.

    Raises:
        SeguqError: `out` holds something else, or a benchmark of another protocol, and
            `overwrite` is not set; or it holds the data.
    """
    protected = [("the data", protocol.data_root), ("the protocol file", protocol.path)]
    protected += [
        ("the data", protocol.data_root / spec["path"])
        for spec in protocol.sources.values()
        if spec.get("path")
    ]
    with resumable_output(
        Path(out),
        "benchmark",
        overwrite=overwrite,
        protected=protected,
        legacy_file="protocol.yaml",
    ) as folder:
        saved = folder.path / "protocol.yaml"
        if saved.is_file() and not overwrite and yaml.safe_load(saved.read_text()) != protocol.raw:
            raise SeguqError(
                f"--out {folder.path}: holds a benchmark of another protocol ({saved}); "
                "use another --out or --overwrite"
            )
        atomic_write(
            saved, lambda tmp: tmp.write_text(yaml.safe_dump(protocol.raw, sort_keys=False))
        )
        yield folder.path
