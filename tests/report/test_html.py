"""The HTML page, kind detection and write_report on a hand-made prediction folder (no model)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from seguq.errors import SeguqError
from seguq.report import detect_kind, write_report
from seguq.report.document import Figure, Heading, Note, Section, Table, file_stem
from seguq.report.html import page_html
from seguq.report.plotting import panel_figure, to_png


def _png() -> bytes:
    figure, (ax,) = panel_figure(1, 2, 2)
    ax.plot([0, 1], [1, 0])
    return to_png(figure)


def _prediction_folder(folder, flags=("false", "true", "true")):
    """Three 16x16 cases with a mask and a total map; scores 0.1, 0.2, 0.3."""
    folder.mkdir(parents=True)
    rows = ["id,domain,score,percentile,ood,samples"]
    for index, flag in enumerate(flags):
        case = f"c{index}"
        labels = np.zeros((16, 16), np.uint8)
        labels[4:10, 4:12] = 1 + index % 2
        Image.fromarray(labels).save(folder / f"{case}_mask.png")
        np.save(folder / f"{case}_total.npy", np.full((16, 16), index / 3, np.float32))
        rows.append(f"{case},site1,{0.1 * (index + 1):.1f},{50 + index},{flag},1")
    (folder / "scores.csv").write_text("\n".join(rows) + "\n")
    info = {"method": "mc_dropout", "input": "nowhere.csv", "maps": ["total"], "levels": []}
    info |= {"class_names": ["background", "a", "b"], "cases": len(flags), "samples": 1}
    (folder / "prediction.json").write_text(json.dumps(info))
    return folder


def test_page_embeds_images_and_loads_nothing_from_outside():
    png = _png()
    table = Table("Main", ["method", "Dice"], [["a <b>", "0.9"], ["c", "0.8"]], main=True)
    sections = [
        Section("Results", [table, Note("a note & more")]),
        Section("Cases", [Heading("best"), Figure("f1", png, "one"), Figure("f2", png)], grid=True),
    ]
    page = page_html("Title", "sub", sections, "foot")
    assert page.count('src="data:image/png;base64,') == 2
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"<(link|script)\b", page) and "@import" not in page
    assert '<table id="main-table" class="main">' in page
    assert "a &lt;b&gt;" in page and "a note &amp; more" in page
    assert page.count('<div class="grid">') == 1 and 'href="#cases"' in page
    assert b"matplotlib.org" not in png  # no URL in the PNG metadata either
    assert file_stem("case1_det/seed 0:x") == "case1_det_seed_0_x"


def test_prediction_folder_report(tmp_path):
    pred = _prediction_folder(tmp_path / "pred")
    assert detect_kind(pred) == "prediction"
    out = write_report(pred, max_cases=2)
    assert out == pred / "report.html"
    page = out.read_text()
    # Most uncertain c2, then the highest-scoring flagged case not shown yet: c1.
    assert "<h3>most uncertain: c2 of pred (image score 0.300)</h3>" in page
    assert "<h3>flagged OOD: c1 of pred (image score 0.200)</h3>" in page
    assert "input nowhere.csv not found: images are not shown" in page
    assert "2 of 3" in page  # flagged count in the main table
    figures = sorted(p.name for p in (pred / "figures").glob("*.*g"))
    assert figures == ["case1_mc_dropout_pred_c2.jpg", "case2_mc_dropout_pred_c1.jpg"]
    main_table = re.search(r'<table id="main-table".*?</table>', page, re.S).group(0)
    assert main_table.count("<tr>") == 2


def test_refuses_to_overwrite_a_report(tmp_path):
    pred = _prediction_folder(tmp_path / "pred", flags=("false", "false", "false"))
    out = write_report(pred, tmp_path / "r" / "report.html", max_cases=1)
    assert "No case of an OOD set is flagged as OOD." in out.read_text()
    out.write_text("keep me")
    with pytest.raises(SeguqError, match=r"report exists \(use --overwrite\)"):
        write_report(pred, out)
    assert out.read_text() == "keep me"
    write_report(pred, out, overwrite=True)
    assert out.read_text().startswith("<!DOCTYPE html>")
    with pytest.raises(SeguqError, match="--max-cases"):
        write_report(pred, out, overwrite=True, max_cases=-1)


def test_kind_detection_errors_name_the_folder_and_what_is_missing(tmp_path):
    with pytest.raises(SeguqError, match="folder not found"):
        detect_kind(tmp_path / "absent")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SeguqError) as error:
        write_report(empty)
    message = str(error.value)
    assert str(empty) in message and "prediction.json" in message and "\n" not in message
    other = tmp_path / "lodo"
    other.mkdir()
    (other / "results.json").write_text(json.dumps({"methods": {}}))
    (other / "summary.json").write_text("{}")  # a summary without eval_in_domain.json
    with pytest.raises(SeguqError, match="seguq-benchmark"):
        detect_kind(other)
    (other / "results.json").write_text("not json")
    with pytest.raises(SeguqError, match="cannot read"):
        detect_kind(other)


def test_missing_pieces_become_notes(tmp_path):
    pred = _prediction_folder(tmp_path / "pred")
    (pred / "scores.csv").unlink()
    (pred / "c0_total.npy").unlink()
    page = write_report(pred).read_text()
    assert "scores.csv not found" in page and "No case to show." in page
    evaluation = tmp_path / "eval.json"
    per_case = [{"id": "c0", "class": "a", "dice": 0.5}, {"id": "c1", "class": "b", "dice": None}]
    evaluation.write_text(json.dumps({"pred": str(pred), "cases": 2, "per_case": per_case}))
    page = write_report(pred, evaluation=evaluation, overwrite=True).read_text()
    assert "<h3>best Dice: c0 of pred (Dice 0.500)</h3>" in page
    assert "No reliability data" in page and "no calibration.reliability" in page
