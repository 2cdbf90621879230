"""What a report is built from, whatever folder it came from: sets, methods and their outputs.

A *set* is a group of cases (the test set, a shifted site, an OOD set); a *method* has, per set,
a prediction folder and optionally an evaluation. Benchmark, demo and prediction folders are all
read into this one shape (see `seguq.report.loaders`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from seguq.report.document import Table

# Set roles. "input" is a lone prediction folder: its flagged cases count as flagged OOD.
TEST, SHIFTED, FAR_OOD, CORRUPT, INPUT = "test", "shifted", "far_ood", "corrupt", "input"
OOD_ROLES = (FAR_OOD, CORRUPT)
FLAG_ROLES = (*OOD_ROLES, INPUT)
IN_ROLES = (TEST, SHIFTED, INPUT)


@dataclass(frozen=True)
class SetInfo:
    """A group of cases.

    Attributes:
        name: e.g. "test", "site4", "ood_anatomy".
        role: one of TEST, SHIFTED, FAR_OOD, CORRUPT, INPUT.
        source: where its images and masks are (a manifest, folder or "synthetic..."), or None
            when it cannot be found (case figures then show the outputs alone).
    """

    name: str
    role: str
    source: str | Path | None = None


@dataclass(frozen=True)
class SetRun:
    """One method's outputs on one set: a prediction folder and an evaluation (or None)."""

    pred_dir: Path | None
    evaluation: dict | None = None


@dataclass
class MethodRuns:
    """A method's outputs, by set name."""

    name: str
    sets: dict[str, SetRun] = field(default_factory=dict)


@dataclass
class ReportInput:
    """Everything a report shows.

    Attributes:
        kind: "benchmark" | "demo" | "prediction".
        folder: the folder the report describes.
        title: the page title.
        class_names: class index -> name (background first); may be empty.
        sets: by name, in display order.
        methods: in display order (the first one chooses the cases shown).
        tables: the results tables, the main one (one row per method) first.
        notes: things worth saying about the inputs (missing pieces).
    """

    kind: str
    folder: Path
    title: str
    class_names: list[str]
    sets: dict[str, SetInfo]
    methods: list[MethodRuns]
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def sets_with_role(self, roles: tuple[str, ...]) -> list[SetInfo]:
        """The sets whose role is one of `roles`, in display order."""
        return [s for s in self.sets.values() if s.role in roles]
