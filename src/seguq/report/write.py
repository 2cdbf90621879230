"""`write_report`: one self-contained HTML page for a benchmark, demo or prediction folder, with
every figure also saved (PNG, case figures JPEG) in `figures/` beside it."""

from __future__ import annotations

import datetime
import json
from dataclasses import replace
from pathlib import Path

from seguq.data.io import atomic_write
from seguq.engine.output_folder import register_outputs
from seguq.errors import SeguqError
from seguq.report.cases import case_section
from seguq.report.curves import calibration_section, ood_section, triage_section
from seguq.report.detect import load_input
from seguq.report.document import Figure, Note, Section
from seguq.report.html import page_html
from seguq.report.inputs import ReportInput
from seguq.report.outputs import ScoreCache

FIGURES = "figures"
# The names of the figures the last report wrote, so that --overwrite removes only those.
FIGURE_LIST = ".seguq-figures.json"


def build_sections(inp: ReportInput, max_cases: int = 4) -> list[Section]:
    """Results tables, case figures, calibration, OOD detection and triage."""
    results = Section("Results", [*inp.tables, *(Note(n) for n in inp.notes)])
    scores = ScoreCache()
    return [
        results,
        case_section(inp, scores, max_cases),
        calibration_section(inp),
        ood_section(inp, scores),
        triage_section(inp),
    ]


def _unique_names(sections: list[Section]) -> None:
    """Give figures that share a name a numbered one, so that no file overwrites another."""
    seen: set[str] = set()
    for section in sections:
        for index, block in enumerate(section.blocks):
            if not isinstance(block, Figure):
                continue
            name, number = block.name, 2
            while name in seen:
                name, number = f"{block.name}-{number}", number + 1
            seen.add(name)
            if name != block.name:
                section.blocks[index] = replace(block, name=name)


def _earlier_figures(figures: Path) -> list[str]:
    """The figure names an earlier report left in its list (none when there is no list)."""
    listing = figures / FIGURE_LIST
    if not listing.is_file():
        return []
    try:
        return [str(name) for name in json.loads(listing.read_text(encoding="utf-8"))]
    except (OSError, ValueError, TypeError):
        return []


def _check_figure_names(figures: Path, names: list[str], earlier: list[str]) -> None:
    """Refuse to replace a file in the figures folder that no earlier report wrote."""
    foreign = [n for n in names if (figures / n).exists() and n not in earlier]
    if foreign:
        raise SeguqError(
            f"{figures / foreign[0]}: exists and was not written by seguq report (it would be "
            "replaced by a figure); choose another --out folder"
        )


def _forget_old_figures(figures: Path, written: list[str], earlier: list[str]) -> None:
    """Remove the figures an earlier report wrote that this one did not (only those named in
    the list the earlier report left), then record this report's list."""
    listing = figures / FIGURE_LIST
    for name in sorted(set(earlier) - set(written)):
        path = figures / Path(name).name  # a bare file name: never outside the folder
        if path.suffix in (".png", ".jpg") and path.is_file():
            path.unlink()
    if not written:
        listing.unlink(missing_ok=True)
        return
    text = json.dumps(sorted(written))
    atomic_write(listing, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_report(
    folder: Path,
    out: Path | None = None,
    *,
    evaluation: Path | None = None,
    overwrite: bool = False,
    max_cases: int = 4,
) -> Path:
    """Write an HTML report of a seguq output folder.

    The page is self-contained (embedded CSS, images as data URIs); its figures are also saved as
    files under `out.parent / "figures"`. Missing pieces are skipped with a note in the page.

    Args:
        folder: a benchmark folder (results.json of kind "seguq-benchmark"), a demo folder
            (summary.json, eval_in_domain.json) or a prediction folder (prediction.json).
        out: the HTML file (default `folder / "report.html"`).
        evaluation: an evaluation JSON of a prediction folder (Dice, calibration, triage).
        overwrite: replace an existing report.
        max_cases: how many cases get figures (each with every method).

    Returns:
        The path of the HTML file.

    Raises:
        SeguqError: an unknown folder, an existing report without `overwrite`, a bad option.
    """
    folder = Path(folder)
    out = Path(out) if out is not None else folder / "report.html"
    if max_cases < 0:
        raise SeguqError(f"--max-cases: expected 0 or more, got {max_cases}")
    if out.is_dir():
        raise SeguqError(f"--out {out}: is a folder, expected an HTML file name")
    if out.suffix.lower() not in (".html", ".htm"):
        raise SeguqError(f"--out {out}: expected an .html file name")
    if out.exists() and not overwrite:
        raise SeguqError(f"--out {out}: report exists (use --overwrite)")
    inp = load_input(folder, evaluation)
    sections = build_sections(inp, max_cases)
    _unique_names(sections)
    figures = out.parent / FIGURES
    planned = [(f, f"{f.name}.{f.ending}") for section in sections for f in section.figures()]
    earlier = _earlier_figures(figures)
    _check_figure_names(figures, [name for _, name in planned], earlier)
    if planned:  # listed first, so that an interrupted report's figures stay seguq's
        listed = json.dumps(sorted({*earlier, *(n for _, n in planned)}))
        atomic_write(figures / FIGURE_LIST, lambda tmp: tmp.write_text(listed, encoding="utf-8"))
    written = []
    for figure, file_name in planned:
        data = figure.image
        atomic_write(figures / file_name, lambda tmp, data=data: tmp.write_bytes(data))
        written.append(file_name)
    _forget_old_figures(figures, written, earlier)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    subtitle = f"{inp.kind} folder {folder.resolve()}"
    footer = f"Written by seguq report on {stamp}; figures also in {figures.resolve()}."
    page = page_html(inp.title, subtitle, sections, footer)
    atomic_write(out, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    register_outputs(out.parent, [out.name, *([FIGURES] if written else [])])
    return out
