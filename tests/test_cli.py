"""The command line: a full run, and every bad-input case ending in one line and exit status 2."""

import hashlib
import json
import os
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from seguq.cli import main


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("seguq: error: ") and "\n" not in err and "Traceback" not in err
    return err


def _digest(folder) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def test_train_predict_evaluate_from_the_command_line(tiny_manifest, tmp_path, capsys):
    before = _digest(tiny_manifest.parent)
    run, pred, report = tmp_path / "run", tmp_path / "pred", tmp_path / "eval.json"
    common = ["--no-progress"]
    assert (
        main(
            [
                "train",
                "--data",
                str(tiny_manifest),
                "--out",
                str(run),
                "--epochs",
                "1",
                "--steps-per-epoch",
                "2",
                "--patch-size",
                "32",
                "32",
                "--train-domains",
                "site1,site2",
                *common,
            ]
        )
        == 0
    )
    assert "trained deterministic" in capsys.readouterr().out
    assert (
        main(
            [
                "predict",
                "--model",
                str(run),
                "--input",
                str(tiny_manifest),
                "--split",
                "test",
                "--out",
                str(pred),
                "--maps",
                "total,aleatoric",
                *common,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "evaluate",
                "--pred",
                str(pred),
                "--data",
                str(tiny_manifest),
                "--split",
                "test",
                "--out",
                str(report),
                *common,
            ]
        )
        == 0
    )
    assert report.is_file() and report.with_suffix(".csv").is_file()
    assert _digest(tiny_manifest.parent) == before  # inputs are never modified
    # Existing results are refused without --overwrite, and replaced with it.
    err = _error(
        capsys,
        [
            "predict",
            "--model",
            str(run),
            "--input",
            str(tiny_manifest),
            "--out",
            str(pred),
            *common,
        ],
    )
    assert "holds a prediction with other settings" in err and "--overwrite" in err
    err = _error(
        capsys,
        [
            "evaluate",
            "--pred",
            str(pred),
            "--data",
            str(tiny_manifest),
            "--split",
            "test",
            "--out",
            str(report),
        ],
    )
    assert "eval.json exists (use --overwrite)" in err
    assert (
        main(
            [
                "predict",
                "--model",
                str(run),
                "--input",
                str(tiny_manifest),
                "--split",
                "test",
                "--out",
                str(pred),
                "--overwrite",
                *common,
            ]
        )
        == 0
    )


def _manifest(folder, rows, header="id,image,mask"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    return folder / "manifest.csv"


def _png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)


@pytest.fixture()
def bad_data(tmp_path):
    good_img, good_mask = np.full((16, 16), 90), np.zeros((16, 16))
    good_mask[4:8, 4:8] = 255
    _png(tmp_path / "img.png", good_img)
    _png(tmp_path / "mask.png", good_mask)
    _png(tmp_path / "small_mask.png", np.zeros((8, 8)))
    _png(tmp_path / "odd_mask.png", np.full((16, 16), 7))
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    (tmp_path / "notes.txt").write_text("hello")
    volume = np.random.default_rng(0).normal(size=(8, 8, 4)).astype(np.float32)
    volume[0, 0, 0] = np.nan
    nib.save(nib.Nifti1Image(volume, np.eye(4)), tmp_path / "nan.nii.gz")
    return tmp_path


@pytest.mark.parametrize(
    ("image", "mask", "expected"),
    [
        ("missing.png", "mask.png", "missing.png"),
        ("corrupt.png", "mask.png", "corrupt.png"),
        ("notes.txt", "mask.png", "notes.txt"),
        ("img.png", "small_mask.png", "small_mask.png"),
        ("img.png", "odd_mask.png", "odd_mask.png"),
        ("nan.nii.gz", "mask.png", "nan.nii.gz"),
    ],
)
def test_bad_files_name_the_file(bad_data, tmp_path, capsys, image, mask, expected):
    manifest = _manifest(bad_data / "set", [f"a,../{image},../{mask}", "b,../img.png,../mask.png"])
    err = _error(
        capsys,
        [
            "train",
            "--data",
            str(manifest),
            "--out",
            str(tmp_path / "run"),
            "--epochs",
            "1",
            "--no-progress",
            "--label-map",
            "0:0,255:1",
        ],
    )
    assert expected in err


def test_bad_options_and_selections(tiny_manifest, tmp_path, capsys):
    run = str(tmp_path / "run")
    assert "unknown method 'bayes'" in _error(
        capsys, ["train", "--data", str(tiny_manifest), "--out", run, "--method", "bayes"]
    )
    assert "unknown domain 'site9'" in _error(
        capsys, ["train", "--data", str(tiny_manifest), "--out", run, "--train-domains", "site9"]
    )
    assert "unknown split 'holdout'" in _error(
        capsys, ["train", "--data", str(tiny_manifest), "--out", run, "--train-split", "holdout"]
    )
    assert "unrecognized arguments: --frobnicate" in _error(
        capsys, ["train", "--data", str(tiny_manifest), "--out", run, "--frobnicate"]
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "empty" in _error(capsys, ["train", "--data", str(empty), "--out", run])
    assert "nowhere: does not exist" in _error(
        capsys, ["train", "--data", str(tmp_path / "nowhere"), "--out", run]
    )
    assert "no trained model" in _error(
        capsys, ["predict", "--model", str(empty), "--input", str(tiny_manifest), "--out", run]
    )
    assert "unknown map 'fuzzy'" in _error(
        capsys,
        [
            "predict",
            "--model",
            str(empty),
            "--input",
            str(tiny_manifest),
            "--out",
            run,
            "--maps",
            "fuzzy",
        ],
    )


def test_console_script_exit_status_and_debug_traceback(tmp_path):
    command = [
        sys.executable,
        "-m",
        "seguq.cli",
        "train",
        "--data",
        str(tmp_path / "nowhere"),
        "--out",
        str(tmp_path / "run"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ})
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "does not exist" in done.stderr
    debug = subprocess.run([*command, "--debug"], capture_output=True, text=True)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_benchmark_lodo_from_the_command_line(tiny_manifest, tmp_path, capsys):
    out = tmp_path / "lodo"
    argv = [
        "benchmark",
        "lodo",
        "--data",
        str(tiny_manifest),
        "--methods",
        "deterministic",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--steps-per-epoch",
        "1",
        "--patch-size",
        "32",
        "32",
        "--domains",
        "site1,site2",
        "--hold-out",
        "site2",
        "--class-names",
        "background,rim,cup",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "deterministic: unseen-domain Dice" in printed and "results.md" in printed
    assert (out / "results.md").is_file()
    assert json.loads((out / "results.json").read_text())["classes"] == ["rim", "cup"]
    assert "loso: protocol file not found" in _error(
        capsys, ["benchmark", "loso", "--out", str(out)]
    )


def test_class_names_are_checked_against_the_classes(tiny_manifest, tmp_path, cli_error):
    run = tmp_path / "run"
    err = cli_error(
        ["train", "--data", tiny_manifest, "--out", run, "--class-names", "background,x"]
    )
    assert "class names" in err and not run.exists()


def test_a_yaml_protocol_refuses_the_options_of_lodo_instead_of_ignoring_them(tmp_path, capsys):
    protocol = tmp_path / "p.yaml"
    protocol.write_text("name: p\n")
    argv = ["benchmark", str(protocol), "--out", str(tmp_path / "out"), "--seeds", "1"]
    message = _error(capsys, [*argv, "--methods", "hue", "--test-split", "all"])
    assert "--methods, --seeds, --test-split belong to 'benchmark lodo'" in message
    assert not (tmp_path / "out").exists()


def test_overwrite_never_replaces_the_folder_holding_the_config(tiny_manifest, tmp_path, capsys):
    from seguq.engine.output_folder import write_marker

    run = tmp_path / "run"
    run.mkdir()
    write_marker(run, {"kind": "run", "complete": True})
    config = run / "config.yaml"
    config.write_text(f"data: {{source: {tiny_manifest}}}\ntrain: {{epochs: 1}}\n")
    argv = ["train", "--config", str(config), "--out", str(run), "--overwrite", "--no-plan"]
    assert "holds the --config file" in _error(capsys, argv)
    assert config.is_file()
