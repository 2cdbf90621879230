"""Reading a benchmark, demo or prediction folder into a `ReportInput`.

Missing optional pieces (an evaluation file, a data source that moved) become notes; only a
folder that is not what its kind promises raises.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from seguq.errors import SeguqError
from seguq.report.document import Table
from seguq.report.inputs import (
    FAR_OOD,
    INPUT,
    SHIFTED,
    TEST,
    MethodRuns,
    ReportInput,
    SetInfo,
    SetRun,
)
from seguq.report.outputs import case_dice, prediction_info, read_json, read_score_rows
from seguq.report.tables import demo_table, evaluation_table, prediction_table, scores_table


def resolve_source(specs: list[object], bases: list[Path]) -> str | Path | None:
    """The first data source among `specs` that exists, as given or relative to a base folder.

    "synthetic..." specs are returned as they are (they are generated, or found in the cache).
    """
    for spec in specs:
        if not spec:
            continue
        text = str(spec)
        if text.startswith("synthetic"):
            return text
        path = Path(text)
        for candidate in [path, *(base / path for base in bases if not path.is_absolute())]:
            if candidate.exists():
                return candidate
    return None


def _optional_json(path: Path, what: str, notes: list[str]) -> dict | None:
    try:
        return read_json(path, what)
    except SeguqError as error:
        notes.append(f"skipped: {error}")
        return None


def load_benchmark(folder: Path, results: dict) -> ReportInput:
    """A `seguq benchmark` folder (results.json of kind "seguq-benchmark"); each method's first
    seed gives the case figures and curves."""
    notes: list[str] = []
    sets = {}
    for name, spec in (results.get("sets") or {}).items():
        csv = (spec or {}).get("csv")
        source = resolve_source([csv], [folder]) if csv else None
        if csv and source is None:
            notes.append(f"set '{name}': manifest {csv} not found; images are not shown")
        sets[name] = SetInfo(name, (spec or {}).get("role", ""), source)
    first_runs: dict[str, dict] = {}
    for run in results.get("runs") or []:
        method = str(run.get("method", "?"))
        kept = first_runs.get(method)
        if kept is None or (run.get("seed") or 0) < (kept.get("seed") or 0):
            first_runs[method] = run
    methods = []
    for method, run in first_runs.items():
        runs = {}
        for set_name, entry in (run.get("sets") or {}).items():
            entry = entry or {}
            pred = folder / entry["pred_dir"] if entry.get("pred_dir") else None
            evaluation = None
            if entry.get("evaluation"):
                evaluation = _optional_json(folder / entry["evaluation"], "evaluation", notes)
            runs[set_name] = SetRun(pred, evaluation)
            if set_name not in sets:
                sets[set_name] = SetInfo(set_name, "", None)
        methods.append(MethodRuns(method, runs))
    tables = []
    for index, table in enumerate([results.get("table"), *(results.get("tables") or [])]):
        if isinstance(table, dict) and table.get("columns"):
            title = table.get("title") or ("Main results" if index == 0 else "")
            rows = [[str(c) for c in row] for row in table.get("rows") or []]
            tables.append(Table(title, [str(c) for c in table["columns"]], rows, main=index == 0))
    if not tables or not tables[0].main:
        notes.append("results.json has no main table")
    title = f"seguq benchmark: {results.get('name') or folder.name}"
    class_names = [str(c) for c in results.get("class_names") or []]
    if not class_names:
        first = next((r.pred_dir for m in methods for r in m.sets.values() if r.pred_dir), None)
        class_names = [
            str(c) for c in (prediction_info(first) if first else {}).get("class_names") or []
        ]
    entries = [
        (m.name, set_name, run.evaluation)
        for m in methods
        for set_name, run in m.sets.items()
        if run.evaluation and run.evaluation.get("segmentation")
    ]
    if entries:  # per class, by name, with calibration and error detection
        table = evaluation_table(entries, class_names)
        tables.append(replace(table, title=f"{table.title} (each method's first seed)"))
    return ReportInput("benchmark", folder, title, class_names, sets, methods, tables, notes)


def load_demo(folder: Path) -> ReportInput:
    """A `seguq demo` folder: one method on the in-domain test set, the unseen site and the
    OOD images."""
    notes: list[str] = []
    summary = read_json(folder / "summary.json", "summary.json")
    method = str(summary.get("method") or "deterministic")
    layout = [
        ("in_domain", TEST, "pred_in_domain", "eval_in_domain.json"),
        ("unseen_domain", SHIFTED, "pred_unseen_domain", "eval_unseen_domain.json"),
        ("ood", FAR_OOD, "pred_ood", None),
    ]
    sets, runs, entries = {}, {}, []
    for name, role, pred_name, eval_name in layout:
        pred = folder / pred_name
        evaluation = _optional_json(folder / eval_name, "evaluation", notes) if eval_name else None
        if not pred.is_dir():
            notes.append(f"set '{name}': {pred} not found")
        info = prediction_info(pred)
        specs = [info.get("input"), (summary.get("paths") or {}).get("data"), "data"]
        sets[name] = SetInfo(name, role, resolve_source(specs, [folder]))
        runs[name] = SetRun(pred if pred.is_dir() else None, evaluation)
        if evaluation is not None:
            entries.append((method, name, evaluation))
    class_names = list(prediction_info(folder / "pred_in_domain").get("class_names") or [])
    tables = [demo_table(summary)]
    if entries:
        tables.append(evaluation_table(entries, class_names))
    title = f"seguq demo: {method}"
    methods = [MethodRuns(method, runs)]
    return ReportInput("demo", folder, title, class_names, sets, methods, tables, notes)


def load_prediction(folder: Path, evaluation_path: Path | None = None) -> ReportInput:
    """A `seguq predict` folder, with an optional evaluation of it for Dice and the curves."""
    notes: list[str] = []
    info = read_json(folder / "prediction.json", "prediction.json")
    evaluation = read_json(evaluation_path, "evaluation") if evaluation_path else None
    if evaluation and evaluation.get("pred"):
        given = Path(str(evaluation["pred"]))
        if given.name != folder.name:
            notes.append(f"the evaluation describes {given}, not {folder} (shown anyway)")
    method = str(info.get("method") or "method")
    specs = [info.get("input"), (evaluation or {}).get("data")]
    source = resolve_source(specs, [folder, folder.parent])
    if source is None:
        notes.append(f"input {info.get('input')} not found: images are not shown")
    name = folder.resolve().name or "input"
    sets = {name: SetInfo(name, INPUT, source)}
    methods = [MethodRuns(method, {name: SetRun(folder, evaluation)})]
    rows = read_score_rows(folder)
    if rows is None:
        notes.append(f"skipped: {folder / 'scores.csv'} not found")
    tables = [prediction_table(method, info, rows, evaluation)]
    if evaluation is not None:
        names = info.get("class_names") or []
        tables.append(evaluation_table([(method, name, evaluation)], names))
    if rows:
        dice = case_dice(evaluation) if evaluation else None
        tables.append(scores_table(rows, dice))
        if any(r.predicted_dice is not None for r in rows):
            tables.append(scores_table(rows, dice, by="predicted_dice"))
    class_names = list(info.get("class_names") or [])
    title = f"seguq prediction: {method} on {folder.name}"
    return ReportInput("prediction", folder, title, class_names, sets, methods, tables, notes)
