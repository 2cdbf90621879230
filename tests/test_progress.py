"""Progress where it is read: a line per interval on a pipe or log, and a seeded subset of an
OOD source for `evaluate --ood-limit`, with a progress bar while it is predicted (and the
report of the prediction folder showing that evaluation's OOD detection)."""

import io
import sys

import seguq.progress as progress_module
from seguq.engine.evaluate import evaluate
from seguq.engine.predict import predict


class _Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_a_pipe_gets_whole_lines_not_carriage_returns(monkeypatch):
    pipe = _Pipe()
    monkeypatch.setattr(sys, "stderr", pipe)
    monkeypatch.setattr(progress_module, "LOG_INTERVAL", 0.0)
    assert list(progress_module.progress(range(3), "demo", "case")) == [0, 1, 2]
    text = pipe.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert lines[-1].startswith("demo: 100%") and "3/3" in lines[-1] and len(lines) >= 2


def test_evaluate_predicts_a_seeded_subset_of_an_ood_source_and_the_report_shows_it(
    trained_run, tiny_manifest, tmp_path, monkeypatch
):
    pipe = _Pipe()
    monkeypatch.setattr(sys, "stderr", pipe)
    pred = predict(trained_run, tiny_manifest, tmp_path / "pred", domains=["site1"], progress=False)
    ood = tiny_manifest.parent / "site_calibration.csv"
    result = evaluate(
        pred.out_dir,
        tiny_manifest,
        tmp_path / "eval.json",
        domains=["site1"],
        ood_data=ood,
        ood_limit=2,
        progress=True,
    )
    assert result["ood"]["n_out"] == 2 and result["ood"]["n_in"] == 5
    assert "predict: 100%" in pipe.getvalue()
    from seguq.report import write_report

    page = write_report(pred.out_dir, evaluation=tmp_path / "eval.json", max_cases=0).read_text()
    assert "OOD detection by the image score (from the evaluation)" in page
