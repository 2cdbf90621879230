"""`seguq demo` end to end on a tiny synthetic set: calibrated, with the before/after ECE and
what every number means in summary.json."""

import json

from seguq.cli import main


def test_demo_calibrates_and_explains_its_numbers(tmp_path, capsys, monkeypatch):
    from seguq.engine import demo

    monkeypatch.setattr(demo, "DEMO_EPOCHS", 1)
    summary = demo.run_demo(tmp_path / "demo", progress=False, n_per_site=4, size=64)
    saved = json.loads((tmp_path / "demo" / "summary.json").read_text())
    for key in ("ece_in_domain", "ece_in_domain_before_calibration", "temperature", "ood_auroc"):
        assert key in saved["meaning"] and saved[key] is not None
    assert summary["temperature"] > 0
    assert 0 <= summary["ece_in_domain"] <= 1 and summary["ece_in_domain_before_calibration"] >= 0
    assert (tmp_path / "demo" / "run" / "checkpoints" / "uncalibrated.pt").is_file()
    assert main(["demo", "--out", str(tmp_path / "demo"), "--epochs", "1"]) == 2  # not replaced
    assert "use --overwrite" in capsys.readouterr().err
    assert json.loads((tmp_path / "demo" / "summary.json").read_text()) == saved
