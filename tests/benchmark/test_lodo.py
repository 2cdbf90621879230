import json

import pytest

from seguq.benchmark.lodo import lodo_folds, run_lodo
from seguq.benchmark.variants import parse_variants
from seguq.data.sources import load_source
from seguq.errors import SeguqError


def test_folds_hold_out_each_domain_once(tiny_manifest):
    source = load_source(tiny_manifest)
    folds = lodo_folds(source)
    assert [f.test_domain for f in folds] == ["site1", "site2", "site3", "site4"]
    for fold in folds:
        assert fold.test_domain not in fold.train_domains
        assert set(fold.train_domains) | {fold.test_domain} == {"site1", "site2", "site3", "site4"}
        assert fold.test_splits == ("test",)
    # OOD domains never take part; a single domain is refused.
    with pytest.raises(SeguqError, match="at least two domains"):
        lodo_folds(source, ["site1"])
    with pytest.raises(SeguqError, match="unknown domain 'ood_anatomy'"):
        lodo_folds(source, ["site1", "ood_anatomy"])


def test_variants_parse_names_and_options():
    variants = parse_variants(
        ["deterministic,pixelwise", "pixelwise:lambda_=2,weighting=false,augment=domain"]
    )
    assert [v.label for v in variants][:2] == ["deterministic", "pixelwise"]
    assert variants[2].options == {"lambda_": 2, "weighting": False, "augment": "domain"}
    from seguq.config import RunConfig

    config = variants[2].apply(RunConfig())
    assert config.method.options == {"lambda_": 2, "weighting": False}
    assert config.data.intensity_augment == "domain"
    with pytest.raises(SeguqError, match="listed twice"):
        parse_variants(["deterministic", "deterministic"])


def test_tiny_run_writes_tables_and_resumes(tiny_manifest, make_config, tmp_path):
    base = make_config(tiny_manifest, epochs=1, steps_per_epoch=1)
    out = tmp_path / "lodo"
    variants = parse_variants(["deterministic"])
    results = run_lodo(
        str(tiny_manifest),
        variants,
        out,
        base=base,
        seeds=1,
        domains=["site1", "site2"],
        progress=False,
    )
    dice = results["methods"]["deterministic"]["average"]["dice"]["mean"]
    assert 0 <= dice["mean"] <= 1 and dice["n"] == 1
    assert {"site1", "site2"} == set(results["methods"]["deterministic"]["domains"])
    for name in ("results.json", "results.csv", "results.md"):
        assert (out / name).is_file()
    assert "| deterministic |" in (out / "results.md").read_text()
    job = out / "jobs" / "site1" / "deterministic" / "seed0"
    config = json.loads((job / "run" / "train_summary.json").read_text())
    assert config["train_cases"] > 0
    stamp = (job / "eval.json").stat().st_mtime_ns
    run_lodo(
        str(tiny_manifest),
        variants,
        out,
        base=base,
        seeds=1,
        domains=["site1", "site2"],
        progress=False,
    )
    assert (job / "eval.json").stat().st_mtime_ns == stamp  # resumed: nothing recomputed
    # the resumed run's record keeps the first invocation: their wall times add up
    invocations = json.loads((out / "results.json").read_text())["invocations"]
    assert len(invocations) == 2 and invocations[0]["wall_seconds"] == results["wall_seconds"]
    only = run_lodo(
        str(tiny_manifest),
        variants,
        out,
        base=base,
        seeds=1,
        domains=["site1", "site2"],
        hold_out=["site2"],
        progress=False,
    )
    assert list(only["methods"]["deterministic"]["domains"]) == ["site2"]
    with pytest.raises(SeguqError, match="--hold-out: site9"):
        run_lodo(
            str(tiny_manifest),
            variants,
            out,
            base=base,
            seeds=1,
            hold_out=["site9"],
            progress=False,
        )
    longer = make_config(tiny_manifest, epochs=2, steps_per_epoch=1)
    with pytest.raises(SeguqError, match=r"holds a seguq lodo with other settings \(config\)"):
        run_lodo(
            str(tiny_manifest),
            variants,
            out,
            base=longer,
            seeds=1,
            domains=["site1", "site2"],
            progress=False,
        )
    assert (job / "eval.json").stat().st_mtime_ns == stamp
