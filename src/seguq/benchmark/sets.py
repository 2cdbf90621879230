"""The case sets of a train/test benchmark: prepared sources, subset manifests, corrupted copies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from seguq.benchmark.corruptions import corrupt_subset, corruption_name
from seguq.benchmark.prepare import annotator_columns, prepare_source, source_tree, write_subset
from seguq.benchmark.protocol import Protocol
from seguq.errors import SeguqError


def _splits(spec: dict) -> list[str] | None:
    if spec.get("splits"):
        return list(spec["splits"])
    return [spec["split"]] if spec.get("split") else None


def prepare_sets(
    protocol: Protocol, out: Path, say: Callable[[str], None]
) -> tuple[Path, dict[str, dict]]:
    """Prepare the sources and write one subset manifest per set under `out/sets`.

    Returns:
        The training manifest, and per set name {"role", "csv", "ids"} ("annotators" for the
        test set): "test" first, then the shifted, far-OOD and corrupted sets of the protocol,
        then the corrupted copies of the test cases (`corruptions`).

    Raises:
        SeguqError: a missing source (with the path looked for), a selection without cases.
    """
    work = protocol.work or out / "prepared"
    repo = source_tree()
    groups = [("test", {"test": protocol.test}), ("sets", protocol.sets)]
    needed = {protocol.train["source"]} | {s["source"] for _, g in groups for s in g.values()}
    prepared: dict[str, Path] = {}
    for name in sorted(needed):
        spec = protocol.sources[name]
        say(f"prepare {name}")
        try:
            prepared[name] = prepare_source(
                name, spec, protocol.data_root, work, spec.get("resize"), repo
            )
        except SeguqError as error:
            raise SeguqError(f"{protocol.path}: {error} (data_root {protocol.data_root})") from None
    sets: dict[str, dict] = {}
    for _, members in groups:
        for name, spec in members.items():
            csv_path = out / "sets" / f"{name}.csv"
            ids = write_subset(
                prepared[spec["source"]],
                csv_path,
                splits=_splits(spec),
                domains=spec.get("domains"),
                limit=spec.get("max_cases"),
                seed=0,
            )
            sets[name] = {"role": spec.get("role", "test"), "csv": csv_path, "ids": ids}
    corruptions = protocol.corruptions
    for kind in corruptions["kinds"]:
        for strength in corruptions["strengths"]:
            name = corruption_name(kind, float(strength))
            say(f"prepare corrupted test images {name}")
            corrupted = corrupt_subset(
                sets["test"]["csv"],
                work / "corrupted" / f"{protocol.name}-{name}",
                kind,
                strength=float(strength),
                limit=corruptions["max_cases"],
                seed=0,
                repo=repo,
            )
            csv_path = out / "sets" / f"{name}.csv"
            sets[name] = {
                "role": "corrupt",
                "csv": csv_path,
                "ids": write_subset(corrupted, csv_path),
            }
    sets["test"]["annotators"] = annotator_columns(sets["test"]["csv"])
    return prepared[protocol.train["source"]], sets
