"""`seguq benchmark --devices 2 --strategy ddp`: each training runs on two (CPU, gloo) ranks in
a `seguq train` child, and the benchmark goes on with the trained run."""

import json

import torch
import yaml

from seguq.cli import main


def test_benchmark_trains_each_run_with_ddp(tmp_path, tiny_protocol, capsys):
    protocol = {**tiny_protocol(), "methods": ["deterministic"]}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(protocol))
    out = tmp_path / "out"
    options = ["--devices", "2", "--strategy", "ddp", "--threads", "1"]
    code = main(
        ["benchmark", str(path), "--out", str(out), *options, "--no-report", "--no-progress"]
    )
    assert code == 0, capsys.readouterr().err
    runs = list(out.glob("runs/*/seed0"))
    assert len(runs) == 1
    payload = torch.load(runs[0] / "checkpoints" / "best.pt", weights_only=True)
    assert payload["config"]["train"]["devices"] == 2
    assert payload["config"]["train"]["strategy"] == "ddp"
    assert not list(runs[0].parent.glob(".*config.yaml"))  # the child's config is removed
    results = json.loads((out / "results.json").read_text())
    assert [r["method"] for r in results["runs"]] == ["deterministic"]
    assert len(results["runs"][0]["sets"]["test"]["scores"]) > 0
