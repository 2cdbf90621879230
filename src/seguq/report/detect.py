"""Which kind of seguq output folder a report describes, told apart by its files."""

from __future__ import annotations

from pathlib import Path

from seguq.errors import SeguqError
from seguq.report.inputs import ReportInput
from seguq.report.loaders import load_benchmark, load_demo, load_prediction
from seguq.report.outputs import read_json

BENCHMARK_KIND = "seguq-benchmark"


def detect_kind(folder: Path) -> str:
    """ "benchmark" (results.json of kind "seguq-benchmark"), "demo" (summary.json and
    eval_in_domain.json) or "prediction" (prediction.json).

    Raises:
        SeguqError: the folder is missing or is none of these.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SeguqError(f"{folder}: folder not found")
    results = folder / "results.json"
    if results.is_file() and read_json(results, "results.json").get("kind") == BENCHMARK_KIND:
        return "benchmark"
    if (folder / "summary.json").is_file() and (folder / "eval_in_domain.json").is_file():
        return "demo"
    if (folder / "prediction.json").is_file():
        return "prediction"
    raise SeguqError(
        f"{folder}: not a seguq benchmark, demo or prediction folder (missing results.json "
        f"of kind '{BENCHMARK_KIND}', summary.json with eval_in_domain.json, or prediction.json)"
    )


def load_input(folder: Path, evaluation: Path | None = None) -> ReportInput:
    """Read a folder of any kind into a `ReportInput`.

    Args:
        folder: a benchmark, demo or prediction folder.
        evaluation: an evaluation JSON of a prediction folder (not for other kinds).

    Raises:
        SeguqError: an unknown folder, or `evaluation` with a benchmark or demo folder.
    """
    folder = Path(folder)
    kind = detect_kind(folder)
    if evaluation is not None and kind != "prediction":
        raise SeguqError(
            f"--evaluation {evaluation}: only for a prediction folder ({folder} is a {kind} "
            "folder with its own evaluations)"
        )
    if kind == "benchmark":
        return load_benchmark(folder, read_json(folder / "results.json", "results.json"))
    if kind == "demo":
        return load_demo(folder)
    return load_prediction(folder, Path(evaluation) if evaluation else None)
