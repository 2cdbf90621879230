"""train -> predict -> evaluate on tiny synthetic data, through the Python API."""

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from seguq.config import load_config
from seguq.engine.checkpoint import load_method
from seguq.engine.evaluate import evaluate
from seguq.engine.predict import predict
from seguq.engine.train import train
from seguq.errors import SeguqError


def test_run_folder_holds_config_checkpoints_log_and_reference(trained_run):
    for name in (
        "config.yaml",
        "checkpoints/best.pt",
        "checkpoints/last.pt",
        "logs/metrics.csv",
        "ood_reference.json",
        "train_summary.json",
    ):
        assert (trained_run / name).is_file(), name
    config = load_config(trained_run / "config.yaml")
    assert config.data.in_channels == 3 and config.data.num_classes == 3
    payload = torch.load(trained_run / "checkpoints/best.pt", weights_only=True)
    assert payload["config"]["method"]["name"] == "deterministic"
    reference = json.loads((trained_run / "ood_reference.json").read_text())
    assert len(reference["scores"]) >= 1 and all(s >= 0 for s in reference["scores"])
    with (trained_run / "logs/metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert any(row.get("val_dice") for row in rows)


def test_reloaded_method_reproduces_predictions(trained_run):
    x = torch.randn(1, 3, 32, 32)
    first = load_method(trained_run / "checkpoints/best.pt").sample(x)
    again = load_method(trained_run / "checkpoints/best.pt").sample(x)
    assert torch.equal(first, again)


def test_predict_writes_outputs_in_input_geometry(trained_run, tiny_manifest, tmp_path):
    out = tmp_path / "pred"
    result = predict(
        trained_run,
        tiny_manifest,
        out,
        splits=["test"],
        domains=["site4"],
        maps=["total", "epistemic"],
        save_samples=1,
        progress=False,
    )
    assert result.cases >= 1
    rows = list(csv.DictReader((out / "scores.csv").open()))
    assert len(rows) == result.cases
    row = rows[0]
    assert 0 < float(row["p_value"]) <= 1 and 0 <= float(row["predicted_dice"]) <= 1
    assert row["ood"] == ""  # the tiny run has too few validation cases for a flag at 0.05
    mask = np.array(Image.open(out / f"{row['id']}_mask.png"))
    assert mask.shape == (64, 64) and mask.max() <= 2
    probs = np.load(out / f"{row['id']}_probs.npy")
    assert probs.shape == (3, 64, 64) and probs.dtype == np.float16  # the default map type
    np.testing.assert_allclose(probs.astype(np.float32).sum(0), 1.0, atol=3e-3)
    assert np.load(out / f"{row['id']}_epistemic.npy").shape == (64, 64)
    info = json.loads((out / "prediction.json").read_text())
    assert info["maps"] == ["total", "epistemic"] and info["cases"] == result.cases


def test_evaluate_reports_segmentation_calibration_errors_and_ood(
    trained_run, tiny_manifest, tmp_path
):
    pred = predict(
        trained_run,
        tiny_manifest,
        tmp_path / "pred",
        splits=["test"],
        save_samples=2,
        progress=False,
    )
    ood = predict(
        trained_run, tiny_manifest, tmp_path / "ood", domains=["ood_anatomy"], progress=False
    )
    result = evaluate(
        pred.out_dir,
        tiny_manifest,
        tmp_path / "eval" / "e.json",
        splits=["test"],
        ood_data=ood.out_dir,
        progress=False,
    )
    seg = result["segmentation"]
    assert 0 <= seg["mean_dice"] <= 1
    assert set(seg["per_class"]) == {"disc_rim", "cup"}
    assert set(seg["per_domain"]) == {"site1", "site2", "site3", "site4"}
    assert 0 <= result["calibration"]["ece"] <= 1
    assert 0 <= result["error_detection"]["total"]["auroc"] <= 1
    assert "aurc" in result["triage"] and "e_aurc" in result["triage"]
    assert 0 <= result["ood"]["auroc"] <= 1 and result["ood"]["n_out"] == 2
    assert result["ambiguity"]["cases"] == result["cases"]  # the synthetic data has 2 raters
    assert 0 <= result["ambiguity"]["ged"]["mean"] <= 2
    assert 0 <= result["ambiguity"]["hm_iou"]["mean"] <= 1
    saved = json.loads((tmp_path / "eval" / "e.json").read_text())
    assert saved["cases"] == result["cases"]
    table = list(csv.DictReader((tmp_path / "eval" / "e.csv").open()))
    assert len(table) == 2 * result["cases"]
    scores = (ood.out_dir / "scores.csv").read_bytes()
    with pytest.raises(SeguqError, match=r"would replace .*scores\.csv, which the evaluation"):
        evaluate(
            pred.out_dir,
            tiny_manifest,
            ood.out_dir / "scores.json",  # its CSV twin is the OOD set's scores.csv
            splits=["test"],
            ood_data=ood.out_dir,
            overwrite=True,
            progress=False,
        )
    assert (ood.out_dir / "scores.csv").read_bytes() == scores


def test_resume_keeps_the_runs_own_config(tiny_manifest, make_config, tmp_path):
    tiny_config = make_config
    out = tmp_path / "run"
    train(tiny_config(tiny_manifest, epochs=2), out)
    with pytest.raises(SeguqError, match=r"trained with train.epochs 2, not 3"):
        train(tiny_config(tiny_manifest, epochs=3), out, resume=True)
    before = (out / "checkpoints" / "last.pt").read_bytes()
    # Resuming a finished run trains nothing more; threads and progress may differ.
    train(tiny_config(tiny_manifest, epochs=2, threads=1), out, resume=True)
    assert (out / "checkpoints" / "last.pt").read_bytes() == before
    rows = list(csv.DictReader((out / "logs/metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [0, 1]


def test_resume_refuses_a_folder_seguq_did_not_train_in(tiny_manifest, make_config, tmp_path):
    from seguq.config import save_config

    config = make_config(tiny_manifest, epochs=1)
    folder = tmp_path / "mine"
    folder.mkdir()
    save_config(config, folder / "config.yaml")  # e.g. a plan the user saved there
    (folder / "notes.txt").write_text("keep")
    with pytest.raises(SeguqError, match=r"--resume .*mine: not a folder seguq trained in"):
        train(config, folder, resume=True)
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "notes.txt"]


def test_ensemble_trains_members_and_calibrates(tiny_manifest, make_config, tmp_path):
    config = make_config(tiny_manifest, method="ensemble", epochs=1, steps_per_epoch=2)
    config.method.calibrate = True
    run = train(config, tmp_path / "ens").run_dir
    for member in ("member0", "member1"):
        assert (run / "members" / member / "checkpoints" / "best.pt").is_file()
    payload = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    temperature = float(payload["state_dict"]["temperature"])
    assert temperature > 0 and temperature != 1.0
    assert payload["info"]["temperature"] == temperature
    method = load_method(run / "checkpoints" / "best.pt")
    probs = method.sample(torch.randn(1, 3, 32, 32))
    assert probs.shape[0] == 2 and not torch.allclose(probs[0], probs[1])


def test_training_is_reproducible_under_a_seed(tiny_manifest, make_config, tmp_path):
    """Same seed, same weights: the initial weights are seeded too, not only the data order."""
    from seguq.engine.checkpoint import read_checkpoint
    from seguq.engine.train import train

    weights = []
    for name in ("a", "b"):
        run = train(make_config(tiny_manifest, epochs=1, steps_per_epoch=2), tmp_path / name)
        weights.append(read_checkpoint(run.run_dir / "checkpoints" / "last.pt")["state_dict"])
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_tensorboard_logger_beside_the_csv_log(tiny_manifest, make_config, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = make_config(tiny_manifest, epochs=2, steps_per_epoch=2)
    config.train.loggers = ["tensorboard"]
    run = train(config, tmp_path / "run").run_dir
    assert (run / "logs" / "metrics.csv").is_file()
    events = EventAccumulator(str(run / "logs" / "tensorboard")).Reload()
    assert {"val_dice", "best_val_dice"} <= set(events.Tags()["scalars"])


def test_a_missing_logger_package_is_a_one_line_error(tiny_manifest, tmp_path, cli_error):
    import importlib.util

    if importlib.util.find_spec("mlflow") is not None:
        pytest.skip("mlflow is installed")
    run = tmp_path / "run"
    err = cli_error(["train", "--data", tiny_manifest, "--out", run, "--logger", "mlflow"])
    assert "pip install 'seguq[mlflow]'" in err and not run.exists()
    err = cli_error(["train", "--data", tiny_manifest, "--out", run, "--logger", "wandb"])
    assert "wandb" in err and "tensorboard" in err and not run.exists()
