"""The report's chart sections: calibration, OOD detection and triage, a line per method."""

from __future__ import annotations

from seguq.metrics.ood import ood_scores
from seguq.report.charts import reliability_figure, retention_figure, roc_figure
from seguq.report.document import Figure, Note, Section, Table
from seguq.report.inputs import OOD_ROLES, TEST, ReportInput
from seguq.report.outputs import ScoreCache, fmt


def _evaluated(inp: ReportInput, key: str, field: str) -> tuple[dict, list[Note]]:
    """{set: {method: evaluation[key][field]}} over the evaluated sets, and notes for gaps."""
    panels: dict[str, dict] = {}
    notes = []
    for info in inp.sets.values():
        for method in inp.methods:
            run = method.sets.get(info.name)
            if run is None or run.evaluation is None:
                continue
            value = (run.evaluation.get(key) or {}).get(field)
            if value:
                panels.setdefault(info.name, {})[method.name] = value
            else:
                notes.append(Note(f"{method.name} on {info.name}: no {key}.{field}, skipped"))
    return panels, notes


def calibration_section(inp: ReportInput) -> Section:
    """Reliability diagrams of every evaluated set."""
    section = Section("Calibration")
    panels, notes = _evaluated(inp, "calibration", "reliability")
    if panels:
        caption = (
            "Reliability diagrams over all pixels: pixel accuracy against confidence per "
            "calibration bin (bins without pixels left out); the dashed diagonal is perfect "
            "calibration. Easy background pixels dominate them: see the foreground diagrams."
        )
        section.blocks.append(Figure("reliability", reliability_figure(panels), caption))
        foreground, _ = _evaluated(inp, "calibration", "reliability_foreground")
        if foreground:
            caption = (
                "Reliability diagrams over the foreground pixels only (predicted or annotated "
                "as a foreground class): the hard pixels, where over-confidence shows."
            )
            figure = reliability_figure(foreground)
            section.blocks.append(Figure("reliability_foreground", figure, caption))
    else:
        section.blocks.append(Note("No reliability data (evaluations with probabilities)."))
    section.blocks.extend(notes)
    return section


def triage_section(inp: ReportInput) -> Section:
    """Filtered-Dice curves of every evaluated set."""
    section = Section("Triage")
    panels, notes = _evaluated(inp, "triage", "filtered_dice_curve")
    if panels:
        caption = (
            "Mean Dice of the cases kept when the most uncertain cases (highest image score) "
            "are referred: a curve that rises as cases are referred ranks errors well."
        )
        section.blocks.append(Figure("retention", retention_figure(panels), caption))
    else:
        section.blocks.append(Note("No filtered-Dice curves (evaluations of two or more cases)."))
    section.blocks.extend(notes)
    return section


def ood_section(inp: ReportInput, scores: ScoreCache) -> Section:
    """ROC curves of the image score: the test set against each OOD set."""
    section = Section("OOD detection")
    tests = inp.sets_with_role((TEST,))
    oods = inp.sets_with_role(OOD_ROLES)
    if not tests or not oods:
        evaluated = _evaluated_ood(inp)
        if evaluated is not None:
            section.blocks.append(evaluated)
            return section
        section.blocks.append(
            Note(
                "No ROC curves: they need a test set and an OOD set. For a prediction folder: "
                "`seguq evaluate --pred DIR --data SRC --out eval.json --ood-data "
                "OOD_SOURCE_OR_PREDICTION` scores it against OOD images, and `seguq report DIR "
                "--evaluation eval.json` shows the result here."
            )
        )
        return section
    test = tests[0]
    panels: dict[str, dict] = {}
    for ood in oods:
        for method in inp.methods:
            inside = scores.rows(_pred_dir(method.sets.get(test.name)))
            outside = scores.rows(_pred_dir(method.sets.get(ood.name)))
            if not inside or not outside:
                missing = test.name if not inside else ood.name
                section.blocks.append(Note(f"{method.name}: no scores for {missing}, skipped"))
                continue
            title = f"{ood.name} ({ood.role}) vs {test.name}"
            pair = ([r.score for r in inside], [r.score for r in outside])
            panels.setdefault(title, {})[method.name] = pair
    if panels:
        caption = (
            f"ROC curves of the image score: {test.name} cases (negative) against each OOD set "
            "(positive); AUROC in the legend."
        )
        section.blocks[:0] = [Figure("ood_roc", roc_figure(panels), caption), _auroc(panels)]
    return section


def _evaluated_ood(inp: ReportInput) -> Table | None:
    """The OOD detection an evaluation (`seguq evaluate --ood-data`) measured, as a table."""
    rows = []
    for method in inp.methods:
        for run in method.sets.values():
            ood = (run.evaluation or {}).get("ood")
            if ood:
                rows.append(
                    [
                        method.name,
                        str(ood.get("ood_data", "")),
                        fmt(ood.get("auroc")),
                        fmt(ood.get("fpr95")),
                        f"{ood.get('n_in')} / {ood.get('n_out')}",
                    ]
                )
    if not rows:
        return None
    columns = ["method", "OOD data", "AUROC", "FPR at 95% TPR", "cases in / OOD"]
    return Table("OOD detection by the image score (from the evaluation)", columns, rows)


def _auroc(panels: dict[str, dict]) -> Table:
    """AUROC per method (rows) and OOD set (columns)."""
    methods = list(dict.fromkeys(m for by_method in panels.values() for m in by_method))
    rows = []
    for method in methods:
        cells = [method]
        for by_method in panels.values():
            pair = by_method.get(method)
            cells.append(fmt(ood_scores(*pair)["auroc"]) if pair else "–")
        rows.append(cells)
    return Table("AUROC of the image score", ["method", *panels], rows)


def _pred_dir(run):
    return run.pred_dir if run is not None else None
