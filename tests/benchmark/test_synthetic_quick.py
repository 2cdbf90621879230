"""The shipped synthetic-quick protocol, at an even smaller size: every method through
`seguq benchmark` and `seguq report`, the report rendered in headless Chromium."""

from pathlib import Path

import yaml

from seguq.cli import main

CONFIG = Path(__file__).resolve().parents[2] / "benchmarks" / "configs" / "synthetic-quick.yaml"


def test_every_method_benchmarked_and_reported(tmp_path, capsys, render_in_chromium):
    protocol = yaml.safe_load(CONFIG.read_text())
    protocol["sources"]["synthetic"].update(n_per_site=4, size=48, n_ood=2)
    protocol["corruptions"].update(strengths=[2], max_cases=2)
    protocol.update(samples=2, ambiguity_samples=2)
    protocol["config"].update(
        data={"patch_size": [32, 32], "batch_size": 2},
        net={"widths": [8, 16, 32]},
        method={"members": 2},
        train={"epochs": 1, "steps_per_epoch": 1, "threads": 1},
    )
    path = tmp_path / "synthetic-quick-tiny.yaml"
    path.write_text(yaml.safe_dump(protocol))
    out = tmp_path / "out"
    assert main(["benchmark", str(path), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    methods = protocol["methods"]
    assert all(f"\n{m} |" in printed for m in methods)
    shown = render_in_chromium(out / "report.html")
    assert shown["rows"] == len(methods)
    assert shown["widths"] and all(w > 0 for w in shown["widths"])
    assert (out / "figures" / "reliability.png").is_file()
