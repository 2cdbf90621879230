"""The report's case section: the chosen cases, one figure per (case, method).

The first method chooses the cases (its Dice and image scores), so that every method is shown on
the same cases. The case figures share a byte budget (CASE_FIGURE_BYTES), so that a report of
many methods stays small enough to mail: each figure gets its share, at least MIN_FIGURE_BYTES.
"""

from __future__ import annotations

from pathlib import Path

from seguq.data.case import Case
from seguq.data.sources import Source, load_source
from seguq.errors import SeguqError
from seguq.report.case_figure import case_figure
from seguq.report.case_view import load_view
from seguq.report.document import Figure, Heading, Note, Section, file_stem
from seguq.report.inputs import FLAG_ROLES, IN_ROLES, ReportInput
from seguq.report.outputs import ScoreCache, case_dice, prediction_info
from seguq.report.selection import BEST, WORST, CaseRef, Selected, select_cases

CASE_FIGURE_BYTES = 4_000_000  # 5.3 MB in base64: a report stays under 8 MB
MIN_FIGURE_BYTES = 120_000


class _Sources:
    """Each set's data source, loaded once (None, with a note, when it cannot be)."""

    def __init__(self, inp: ReportInput, notes: list[Note]):
        self.inp, self.notes = inp, notes
        self._loaded: dict[str, tuple[Source | None, dict[str, Case]]] = {}

    def case(self, set_name: str, case_id: str, info: dict) -> tuple[Case | None, Source | None]:
        if set_name not in self._loaded:
            self._loaded[set_name] = self._load(set_name, info)
        source, cases = self._loaded[set_name]
        return cases.get(case_id), source

    def _load(self, set_name: str, info: dict) -> tuple[Source | None, dict[str, Case]]:
        spec = self.inp.sets[set_name].source
        if spec is None:
            return None, {}
        label_map = {int(k): int(v) for k, v in (info.get("label_map") or {}).items()} or None
        try:
            source = load_source(spec, label_map=label_map)
        except SeguqError as error:
            self.notes.append(Note(f"set '{set_name}': images not shown ({error})"))
            return None, {}
        return source, {case.id: case for case in source.cases}


def candidates(inp: ReportInput, scores: ScoreCache) -> tuple[dict, dict, dict]:
    """(Dice, image scores, flagged OOD scores) of the first method's cases, by CaseRef."""
    dice: dict[CaseRef, float] = {}
    uncertain: dict[CaseRef, float] = {}
    flagged: dict[CaseRef, float] = {}
    if not inp.methods:
        return dice, uncertain, flagged
    for info in inp.sets.values():
        run = inp.methods[0].sets.get(info.name)
        if run is None:
            continue
        rows = scores.rows(run.pred_dir) or []
        if info.role in IN_ROLES:
            dice.update({CaseRef(info.name, i): d for i, d in case_dice(run.evaluation).items()})
            uncertain.update({CaseRef(info.name, r.id): r.score for r in rows})
        if info.role in FLAG_ROLES:
            flagged.update({CaseRef(info.name, r.id): r.score for r in rows if r.ood})
    return dice, uncertain, flagged


def _describe(chosen: Selected) -> str:
    measure = "Dice" if chosen.reason in (BEST, WORST) else "image score"
    return f"{chosen.reason}: {chosen.ref.id} of {chosen.ref.set} ({measure} {chosen.value:.3f})"


def case_section(inp: ReportInput, scores: ScoreCache, max_cases: int) -> Section:
    """Figures of up to `max_cases` cases for every method."""
    section = Section("Cases")
    notes: list[Note] = []
    dice, uncertain, flagged = candidates(inp, scores)
    chosen = select_cases(dice, uncertain, flagged, max_cases)
    if inp.methods:
        section.blocks.append(
            Note(
                f"Cases chosen by {inp.methods[0].name}: best and worst Dice, highest image "
                "score, and the highest-scoring case of an OOD set flagged as OOD. Masks: one "
                "colour per class; errors: false positives and false negatives in two colours;"
                " uncertainty maps over the image, opaque where high. Click a figure to see it at"
                " full size."
            )
        )
    if not flagged:
        section.blocks.append(Note("No case of an OOD set is flagged as OOD."))
    if not chosen:
        section.blocks.append(Note("No case to show."))
    sources = _Sources(inp, notes)
    infos: dict[Path, dict] = {}
    budget = max(MIN_FIGURE_BYTES, CASE_FIGURE_BYTES // max(1, len(chosen) * len(inp.methods)))
    for number, selected in enumerate(chosen, start=1):
        section.blocks.append(Heading(_describe(selected)))
        for method in inp.methods:
            run = method.sets.get(selected.ref.set)
            pred_dir = run.pred_dir if run is not None else None
            if pred_dir is None:
                notes.append(Note(f"{method.name}: no predictions for {selected.ref.set}"))
                continue
            info = infos.setdefault(pred_dir, prediction_info(pred_dir))
            case, source = sources.case(selected.ref.set, selected.ref.id, info)
            view = load_view(pred_dir, info, selected.ref.id, case, source)
            notes.extend(Note(f"{method.name}, {selected.ref.id}: {n}") for n in view.notes)
            title = f"{method.name} — {selected.ref.set}/{selected.ref.id}"
            if view.where:
                title += f" ({view.where})"
            class_names = inp.class_names or list(info.get("class_names") or [])
            drawn = case_figure(view, class_names, title, max_bytes=budget)
            if drawn is None:
                notes.append(Note(f"{method.name}: nothing to draw for {selected.ref.id}"))
                continue
            image, left_out = drawn
            notes.extend(Note(f"{method.name}, {selected.ref.id}: {n}") for n in left_out)
            name = file_stem(f"case{number}_{method.name}_{selected.ref.set}_{selected.ref.id}")
            caption = f"{title}: {selected.reason}"
            section.blocks.append(Figure(name, image, caption, ending="jpg", zoom=True))
    section.blocks.extend(notes)
    section.blocks.extend(Note(line) for line in hierarchy_lines(inp))
    return section


def hierarchy_lines(inp: ReportInput) -> list[str]:
    """One line per (method, set) evaluated with per-level maps: each level's share of the
    sample variance (or of the epistemic map), and the levels whose maps agree."""
    lines = []
    for method in inp.methods:
        for set_name, run in method.sets.items():
            maps = ((run.evaluation or {}).get("hierarchy") or {}).get("maps") or {}
            name = next((m for m in ("variance", "epistemic", "total") if m in maps), None)
            if name is None:
                continue
            shares = ", ".join(
                f"{level} {share:.2f}"
                for level, share in maps[name]["share"].items()
                if share is not None
            )
            alike = [
                pair for pair, r in maps[name]["correlation"].items() if r is not None and r >= 0.9
            ]
            what = "sample variance" if name == "variance" else f"{name} map"
            line = f"{method.name} on {set_name}: share of the {what} by level: {shares}"
            line += f"; levels whose maps agree (r >= 0.9): {', '.join(alike)}" if alike else ""
            lines.append(line + ".")
    return lines
