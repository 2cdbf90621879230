"""Fingerprint and plan on tiny generated 2D and 3D data."""

from __future__ import annotations

import json
import math

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from seguq.data.sources import load_source
from seguq.plan import Machine, plan_run
from seguq.plan.fingerprint import dataset_fingerprint

CPU = Machine(device="cpu", threads=1, budget_minutes=1.0)


def _msd(folder, modality="MRI", cases=6, shape=(20, 28, 16), spacing=(1.0, 1.0, 1.0)):
    """A Medical-Decathlon folder: a bright ball (class 1) with a core (class 2) per volume."""
    rng = np.random.default_rng(0)
    (folder / "imagesTr").mkdir(parents=True)
    (folder / "labelsTr").mkdir()
    training = []
    for i in range(cases):
        grid = np.indices(shape)
        centre = np.array(shape) // 2 + rng.integers(-2, 3, 3)
        radius = sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True))
        label = np.where(radius < 16, 1, 0) + np.where(radius < 4, 1, 0)
        image = (label * 300 - 1000 + rng.normal(0, 50, shape)).astype(np.float32)
        affine = np.diag([*spacing, 1.0])
        nib.save(nib.Nifti1Image(image, affine), folder / "imagesTr" / f"c{i}_0000.nii.gz")
        nib.save(
            nib.Nifti1Image(label.astype(np.uint8), affine), folder / "labelsTr" / f"c{i}.nii.gz"
        )
        training.append({"image": f"./imagesTr/c{i}.nii.gz", "label": f"./labelsTr/c{i}.nii.gz"})
    meta = {"labels": {"0": "background", "1": "ball", "2": "core"}, "modality": {"0": modality}}
    (folder / "dataset.json").write_text(json.dumps({**meta, "training": training}))
    return folder


def _images(folder, cases=6, size=(96, 80), side="top"):
    """2D images with one blob per image, always in the top half (a canonical orientation)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    rows = ["id,image,mask"]
    for i in range(cases):
        mask = np.zeros(size, np.uint8)
        r = (
            int(rng.integers(10, size[0] // 2 - 10))
            if side == "top"
            else int(rng.integers(10, size[0] - 10))
        )
        c = int(rng.integers(15, size[1] - 15))
        mask[r - 8 : r + 8, c - 10 : c + 10] = 255
        image = (mask // 2 + rng.integers(0, 60, size)).astype(np.uint8)
        Image.fromarray(image).save(folder / f"i{i}.png")
        Image.fromarray(mask).save(folder / f"m{i}.png")
        rows.append(f"c{i},i{i}.png,m{i}.png")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    return folder / "manifest.csv"


def _decided(plan) -> dict:
    return {key: value for key, value, _, _ in plan.decisions}


def test_fingerprint_of_volumes(tmp_path):
    source = load_source(_msd(tmp_path / "msd", spacing=(1.0, 1.0, 2.0)))
    fp = dataset_fingerprint(source, source.cases, cache=False)
    assert fp.cases == 6 and fp.dims == 3 and fp.channels == 1 and fp.modalities == ["MRI"]
    assert fp.median_shape == [20, 28, 16] and fp.median_spacing == [1.0, 1.0, 2.0]
    assert fp.class_presence == [1.0, 1.0, 1.0] and math.isclose(sum(fp.class_fraction), 1.0)
    assert fp.thickness[1] > fp.thickness[2] > 0  # the ball is thicker than its core
    again = dataset_fingerprint(source, source.cases)  # computed, cached ...
    assert dataset_fingerprint(source, source.cases).to_dict() == again.to_dict()  # ... reused


def test_plan_of_volumes_on_a_cpu_and_on_a_gpu(tmp_path):
    small = str(_msd(tmp_path / "small"))  # a case fits one 3D patch: 3D even on a CPU
    _, cpu = plan_run({"data": {"source": small}}, machine=CPU, measure=False)
    values = _decided(cpu)
    assert values["data.dims"] == 3 and values["data.normalization"] == "zscore"
    patch = values["data.patch_size"]
    assert len(patch) == 3 and all(p % 2 ** (len(values["net.widths"]) - 1) == 0 for p in patch)
    large = str(_msd(tmp_path / "large", cases=2, shape=(72, 80, 64)))
    _, cpu_large = plan_run({"data": {"source": large}}, machine=CPU, measure=False)
    assert _decided(cpu_large)["data.dims"] == 2  # slices on a CPU
    assert len(_decided(cpu_large)["data.patch_size"]) == 2
    gpu = Machine(device="cuda")
    config, on_gpu = plan_run({"data": {"source": large}}, machine=gpu, measure=False)
    assert _decided(on_gpu)["data.dims"] == 3 and len(config.data.patch_size) == 3
    assert _decided(on_gpu)["net.widths"][0] == 32
    thick = str(_msd(tmp_path / "thick", cases=2, spacing=(1.0, 1.0, 4.0)))
    _, anisotropic = plan_run({"data": {"source": thick}}, machine=gpu, measure=False)
    assert _decided(anisotropic)["data.dims"] == 2
    assert _decided(anisotropic)["data.slice_axis"] == 2


def test_the_patch_is_never_mostly_padding(tmp_path):
    spec = str(_msd(tmp_path / "msd", shape=(36, 50, 35)))
    config, _ = plan_run({"data": {"source": spec, "dims": 3}}, machine=CPU, measure=False)
    median = [36, 50, 35]
    patch = config.data.patch_size
    assert math.prod(median) / math.prod(patch) >= 0.5
    assert all(p >= m for p, m in zip(patch, median, strict=True))  # covers the median case


def test_ct_is_clipped_and_z_scored_with_foreground_statistics(tmp_path):
    spec = str(_msd(tmp_path / "ct", modality="CT"))
    config, _ = plan_run({"data": {"source": spec}}, machine=CPU, measure=False)
    assert config.data.normalization == "ct"
    low, high, mean, std = config.data.ct_stats
    assert -900 < low < mean < high < -300 and std > 0  # the ball's intensities (-700, -400)


def test_canonical_orientation_keeps_flips_and_rotations_small(tmp_path):
    config, plan = plan_run(
        {"data": {"source": str(_images(tmp_path / "top"))}}, machine=CPU, measure=False
    )
    assert config.data.flip_axes == [1] and config.data.rotation == 15.0  # never upside down
    free, _ = plan_run(
        {"data": {"source": str(_images(tmp_path / "any", side="any"))}}, machine=CPU, measure=False
    )
    assert free.data.flip_axes == [0, 1] and free.data.rotation == 180.0


def _lines(folder, size=(512, 512)):
    """Images of one-pixel-wide lines (vessel-like structures)."""
    folder.mkdir(parents=True)
    rows = ["id,image,mask"]
    for i in range(4):
        mask = np.zeros(size, np.uint8)
        mask[:, 40 + 10 * i :: 60] = 255
        Image.fromarray(mask // 2 + 30).save(folder / f"i{i}.png")
        Image.fromarray(mask).save(folder / f"m{i}.png")
        rows.append(f"c{i},i{i}.png,m{i}.png")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    return folder / "manifest.csv"


def test_large_images_of_large_structures_shrink_thin_ones_do_not(tmp_path):
    big = _images(tmp_path / "big", size=(1024, 1024))
    config, _ = plan_run({"data": {"source": str(big)}}, machine=CPU, measure=False)
    factor = config.data.target_spacing[0]
    assert factor > 1 and config.data.target_spacing == [factor, factor]
    assert max(config.data.patch_size) <= 256  # the machine's cap
    thin, _ = plan_run(
        {"data": {"source": str(_lines(tmp_path / "thin"))}}, machine=CPU, measure=False
    )
    assert thin.data.target_spacing == []


def test_options_beat_the_plan(tmp_path):
    user = {
        "data": {"source": str(_images(tmp_path / "a")), "patch_size": [32, 32], "rotation": 5.0},
        "net": {"widths": [8, 16]},
        "train": {"epochs": 2},
    }
    config, plan = plan_run(user, machine=CPU)
    assert config.data.patch_size == [32, 32] and config.data.rotation == 5.0
    assert config.net.widths == [8, 16] and config.train.epochs == 2
    given = {key for key, _, _, is_given in plan.decisions if is_given}
    assert {"data.patch_size", "data.rotation", "net.widths", "train.epochs"} <= given
    assert plan.seconds_per_step == 0.0  # a given budget needs no timing


def test_the_budget_is_sized_from_a_measured_step(tmp_path):
    user = {"data": {"source": str(_images(tmp_path / "a"))}, "net": {"widths": [4, 8]}}
    config, plan = plan_run(user, machine=Machine(device="cpu", threads=1, budget_minutes=0.5))
    assert plan.seconds_per_step > 0
    steps = config.train.epochs * config.train.steps_per_epoch
    assert config.train.epochs == 5 or steps * plan.seconds_per_step <= 0.5 * 60


def test_plan_command_prints_one_line_per_decision(tmp_path, capsys):
    from seguq.cli import main

    out = tmp_path / "planned.yaml"
    argv = ["plan", "--data", str(_images(tmp_path / "a")), "--epochs", "3", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "data.patch_size = " in printed and "train.epochs = 3: given" in printed
    from seguq.config import load_config

    assert load_config(out).train.epochs == 3


@pytest.mark.parametrize("dims", [2, 3])
def test_train_saves_plan_and_fingerprint(tmp_path, dims):
    from seguq.cli import main

    run = tmp_path / "run"
    argv = ["train", "--data", str(_msd(tmp_path / "msd")), "--out", str(run), "--dims", str(dims)]
    argv += ["--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2", "--no-progress"]
    assert main(argv) == 0
    plan = json.loads((run / "plan.json").read_text())
    assert any(d["key"] == "data.patch_size" for d in plan["decisions"])
    assert (run / "fingerprint.json").is_file()
    from seguq.config import load_config

    assert load_config(run / "config.yaml").data.dims == dims


def test_plan_out_never_replaces_a_file_without_overwrite_nor_its_input(tmp_path, capsys):
    from seguq.cli import main

    data = str(_images(tmp_path / "a"))
    out = tmp_path / "planned.yaml"
    out.write_text("mine: true\n")
    assert main(["plan", "--data", data, "--epochs", "3", "--out", str(out)]) != 0
    assert "exists (add --overwrite" in capsys.readouterr().err
    assert out.read_text() == "mine: true\n"
    source = tmp_path / "run.yaml"
    source.write_text(f"data: {{source: {data}}}\ntrain: {{epochs: 2}}\n")
    argv = ["plan", "--config", str(source), "--out", str(source), "--overwrite"]
    assert main(argv) != 0
    assert "is the input --config" in capsys.readouterr().err
    assert source.read_text().endswith("train: {epochs: 2}\n")
    assert main(["plan", "--data", data, "--epochs", "3", "--out", str(out), "--overwrite"]) == 0
    from seguq.config import load_config

    assert load_config(out).train.epochs == 3
