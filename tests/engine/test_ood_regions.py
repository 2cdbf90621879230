"""`seguq ood-regions`: pixel detection of inserted content by the uncertainty maps."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from seguq.cli import main
from seguq.engine.ood_regions import region_detection
from seguq.metrics.error_detection import weighted_fpr_at_tpr
from seguq.metrics.ood import fpr_at_tpr


def _folder(tmp_path, maps):
    """A prediction folder with the given maps of two cases and their region manifest."""
    pred = tmp_path / "pred"
    pred.mkdir()
    rows = []
    for case_id, region in (("a", np.s_[2:5, 2:5]), ("b", np.s_[0:2, 4:8])):
        mask = np.zeros((8, 8), np.uint8)
        mask[region] = 255
        Image.fromarray(mask).save(tmp_path / f"{case_id}_region.png")
        for name, make in maps.items():
            np.save(pred / f"{case_id}_{name}.npy", make(mask > 0).astype(np.float32))
        rows.append({"id": case_id, "region": f"{case_id}_region.png", "kind": "patch"})
    (pred / "prediction.json").write_text(json.dumps({"maps": list(maps), "levels": []}))
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "region", "kind"])
        writer.writeheader()
        writer.writerows(rows)
    return pred, manifest


def test_a_map_that_lights_up_the_region_detects_it(tmp_path):
    rng = np.random.default_rng(0)
    pred, manifest = _folder(
        tmp_path,
        {
            "total": lambda region: region + 0.1 * rng.random(region.shape),
            "epistemic": lambda region: rng.random(region.shape),
            "aleatoric": lambda region: 1.0 - region,
        },
    )
    result = region_detection(pred, manifest)
    assert result["cases"] == 2
    assert result["maps"]["total"]["auroc"] == 1.0 and result["maps"]["total"]["fpr95"] == 0.0
    assert result["maps"]["aleatoric"]["auroc"] == 0.0
    assert 0.2 < result["maps"]["epistemic"]["auroc"] < 0.8
    assert result["by_kind"]["patch"]["total"]["auroc"] == 1.0


def test_weighted_fpr95_equals_the_exact_one_with_unit_weights():
    rng = np.random.default_rng(1)
    inside, outside = rng.normal(size=50), rng.normal(1.0, size=30)
    scores = np.concatenate([inside, outside])
    labels = np.r_[np.zeros(50, bool), np.ones(30, bool)]
    assert weighted_fpr_at_tpr(scores, labels) == pytest.approx(fpr_at_tpr(inside, outside))
    doubled = weighted_fpr_at_tpr(np.r_[scores, scores], np.r_[labels, labels])
    halves = weighted_fpr_at_tpr(scores, labels, np.full(scores.size, 2.0))
    assert doubled == pytest.approx(halves)


def test_cli_inserts_predicts_and_scores(trained_run, tiny_manifest, tmp_path, capsys):
    out = tmp_path / "regions"
    args = ["ood-regions", "--model", str(trained_run), "--input", str(tiny_manifest)]
    # the donors: the same source (the patches still come from other images)
    args += ["--domains", "site1", "--donors", str(tiny_manifest), "--out", str(out)]
    args += ["--limit", "2", "--threads", "1", "--no-progress"]
    assert main(args) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "4 altered images" in printed and "total: AUROC" in printed
    result = json.loads((out / "regions.json").read_text())
    assert set(result["maps"]) == {"total", "aleatoric", "epistemic", "feature"}
    assert set(result["by_kind"]) == {"patch", "object"}
    assert 0.0 <= result["maps"]["total"]["auroc"] <= 1.0
    assert main(args) == 2  # an existing result is not replaced
    assert "use --overwrite" in capsys.readouterr().err
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "mine.txt").write_text("keep")
    foreign = [*args[: args.index("--out")], "--out", str(notes), *args[args.index("--out") + 2 :]]
    assert main([*foreign, "--overwrite"]) == 2  # not a folder seguq wrote: never replaced
    assert "not a folder seguq wrote" in capsys.readouterr().err
    assert (notes / "mine.txt").read_text() == "keep"
    assert main([*args, "--overwrite"]) == 0
    assert json.loads((out / "regions.json").read_text())["maps"] == result["maps"]
