"""predict -> evaluate -> a benchmark folder -> write_report, and the `seguq report` command."""

from __future__ import annotations

import csv
import json
import re

import pytest

from seguq.cli import main
from seguq.report import detect_kind, write_report


def _methods(benchmark_dir) -> list[str]:
    return [
        row[0] for row in json.loads((benchmark_dir / "results.json").read_text())["table"]["rows"]
    ]


def test_benchmark_report_has_tables_cases_and_curves(benchmark_dir, benchmark_report):
    METHODS = _methods(benchmark_dir)
    assert detect_kind(benchmark_dir) == "benchmark"
    assert benchmark_report == benchmark_dir / "report.html"
    html = benchmark_report.read_text()
    assert benchmark_report.stat().st_size < 8_000_000  # case figures share a byte budget
    figures = sorted(p.name for p in (benchmark_dir / "figures").glob("*.png"))
    for name in ("reliability.png", "ood_roc.png", "retention.png"):
        assert name in figures
    cases = sorted(p.name for p in (benchmark_dir / "figures").glob("case*.jpg"))  # JPEG
    # max_cases = 4 cases (best, worst, most uncertain, flagged if any), one figure per method.
    assert len(cases) % len(METHODS) == 0 and 2 * len(METHODS) <= len(cases) <= 4 * len(METHODS)
    for method in METHODS:
        assert any(f"_{method}_" in n for n in cases)
    # Each figure is embedded once; none is linked from outside.
    assert html.count('src="data:image/png;base64,') == len(figures)
    assert html.count('src="data:image/jpeg;base64,') == len(cases)
    assert html.count('class="zoom"') == len(cases)  # a click shows each case at full size
    assert "http://" not in html and "https://" not in html
    main_table = re.search(r'<table id="main-table".*?</table>', html, re.S).group(0)
    assert main_table.count("<tr>") == 1 + len(METHODS)
    assert "<h3>OOD</h3>" in html  # the further table, as given
    # Each method's first seed is used: the seed-1 run's missing folders are never mentioned.
    assert "missing/" not in html
    auroc = re.search(r"<h3>AUROC of the image score</h3>.*?</table>", html, re.S).group(0)
    assert "ood_anatomy (far_ood) vs test" in auroc and "ood_corrupt (corrupt) vs test" in auroc
    assert auroc.count("<tr>") == 1 + len(METHODS)


def test_report_refuses_to_overwrite_then_does_with_overwrite(benchmark_dir, tmp_path):
    out = tmp_path / "elsewhere" / "bench.html"
    assert write_report(benchmark_dir, out, max_cases=1) == out
    assert (out.parent / "figures" / "ood_roc.png").is_file()
    before = out.stat().st_mtime_ns
    with pytest.raises(Exception, match="report exists"):
        write_report(benchmark_dir, out)
    figures = out.parent / "figures"
    before_names = {p.name for p in figures.glob("*.*g")}
    (figures / "mine.png").write_bytes(b"not seguq's")
    write_report(benchmark_dir, out, overwrite=True, max_cases=0)
    assert out.stat().st_mtime_ns >= before
    assert "No case to show" in out.read_text()
    after_names = {p.name for p in figures.glob("*.*g")}
    assert after_names < before_names | {"mine.png"} and "mine.png" in after_names
    assert len(after_names) < len(before_names)  # the case figures of the first report are gone


def test_prediction_folder_report_with_and_without_evaluation(benchmark_dir, tmp_path):
    pred = benchmark_dir / "predictions" / "deterministic" / "seed0" / "site4"
    evaluation = benchmark_dir / "evaluations" / "deterministic" / "seed0" / "site4.json"
    assert detect_kind(pred) == "prediction"
    plain = write_report(pred, tmp_path / "plain" / "r.html", max_cases=2)
    text = plain.read_text()
    assert "Image scores" in text and "most uncertain" in text and "best Dice" not in text
    assert "Cases to review first: lowest predicted Dice" in text
    review = text.split("Cases to review first")[1].split("</table>")[0]
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in review.split("<tr>")]
    predicted = [float(row[5]) for row in cells if len(row) > 5]
    assert predicted and predicted == sorted(predicted)
    scored = write_report(pred, tmp_path / "scored" / "r.html", evaluation=evaluation)
    text = scored.read_text()
    assert "best Dice" in text and "worst Dice" in text and "Evaluation by set" in text
    assert (tmp_path / "scored" / "figures" / "reliability.png").is_file()
    assert (tmp_path / "scored" / "figures" / "reliability_foreground.png").is_file()
    assert "ECE foreground" in text and "foreground pixels only" in text


def test_cli_report_and_its_errors(benchmark_dir, tmp_path, capsys):
    out = tmp_path / "cli" / "report.html"
    assert main(["report", str(benchmark_dir), "--out", str(out), "--max-cases", "1"]) == 0
    assert out.is_file() and "report:" in capsys.readouterr().out
    assert main(["report", str(benchmark_dir), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "report exists" in error and error.count("\n") == 1
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "folder not found" in capsys.readouterr().err
    evaluation = benchmark_dir / "evaluations" / "deterministic" / "seed0" / "test.json"
    args = ["report", str(benchmark_dir), "--out", str(out), "--evaluation", str(evaluation)]
    assert main([*args, "--overwrite"]) == 2
    assert "only for a prediction folder" in capsys.readouterr().err


def test_demo_folder_report(benchmark_dir, tmp_path):
    """A folder laid out as `seguq demo` writes it, from the benchmark's outputs."""
    import shutil

    demo = tmp_path / "demo"
    seed0 = benchmark_dir / "predictions" / "deterministic" / "seed0"
    evals = benchmark_dir / "evaluations" / "deterministic" / "seed0"
    for target, name in (("in_domain", "test"), ("unseen_domain", "site4"), ("ood", "ood_anatomy")):
        shutil.copytree(seed0 / name, demo / f"pred_{target}")
    shutil.copy(evals / "test.json", demo / "eval_in_domain.json")
    scores = demo / "pred_ood" / "scores.csv"  # every OOD case flagged
    rows = list(csv.DictReader(scores.open()))
    with scores.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([{**row, "ood": "true"} for row in rows])
    summary = {"method": "deterministic", "epochs": 2, "dice_in_domain": 0.5, "ood_auroc": None}
    (demo / "summary.json").write_text(json.dumps(summary))
    assert detect_kind(demo) == "demo"
    page = write_report(demo).read_text()
    assert "eval_unseen_domain.json: evaluation not found" in page  # a note, not a crash
    main_table = re.search(r'<table id="main-table".*?</table>', page, re.S).group(0)
    assert main_table.count("<tr>") == 2 and "<td>0.500</td>" in main_table
    figures = {p.name for p in (demo / "figures").glob("*.*g")}
    assert {"reliability.png", "ood_roc.png", "retention.png"} <= figures
    assert any(name.startswith("case") and "_ood_" in name for name in figures)


def test_benchmark_without_runs_shows_its_tables(tmp_path):
    """A leave-one-domain-out results.json: tables, no sets or runs."""
    folder = tmp_path / "lodo"
    folder.mkdir()
    table = {"columns": ["method", "Dice site1"], "rows": [["deterministic", "0.8 ± 0.1"]]}
    results = {"kind": "seguq-benchmark", "name": "lodo", "sets": {}, "runs": [], "table": table}
    (folder / "results.json").write_text(json.dumps(results))
    page = write_report(folder).read_text()
    assert "0.8 ± 0.1" in page and "No case to show." in page and "No ROC curves" in page
    assert not (folder / "figures").exists() or not any((folder / "figures").iterdir())


def test_report_never_replaces_a_figure_file_it_did_not_write(benchmark_dir, tmp_path):
    out = tmp_path / "paper" / "bench.html"
    figures = out.parent / "figures"
    figures.mkdir(parents=True)
    (figures / "ood_roc.png").write_bytes(b"the user's own figure")
    for overwrite in (False, True):
        with pytest.raises(Exception, match=r"ood_roc\.png: exists and was not written by seguq"):
            write_report(benchmark_dir, out, max_cases=0, overwrite=overwrite)
    assert (figures / "ood_roc.png").read_bytes() == b"the user's own figure"
    assert not out.exists()
