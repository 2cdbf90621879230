"""The default label map comes from the values of all masks, whatever their order."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from seguq.data.sources import load_source
from seguq.errors import SeguqError


def _manifest(folder, masks: list[np.ndarray], mode: str | None = None):
    """A manifest with one grey image per mask; masks saved as PNG (mode "1" or "P" optional)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["id,image,mask"]
    for i, mask in enumerate(masks):
        Image.fromarray(np.full(mask.shape, 100, np.uint8)).save(folder / f"i{i}.png")
        picture = Image.fromarray(mask.astype(np.uint8))
        if mode == "1":
            picture = Image.fromarray(mask.astype(bool))
        elif mode == "P":
            picture = picture.convert("P")
        picture.save(folder / f"m{i}.png")
        lines.append(f"c{i},i{i}.png,m{i}.png")
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")
    return folder / "manifest.csv"


def _mask(values) -> np.ndarray:
    mask = np.zeros((8, 8), np.uint8)
    for i, value in enumerate(values):
        mask[i, :4] = value
    return mask


@pytest.mark.parametrize("order", [0, 1])
def test_binary_masks_coded_0_1_or_0_255_give_two_classes_in_any_order(tmp_path, order):
    masks = [_mask([1]), _mask([255])]
    source = load_source(_manifest(tmp_path, masks[::-1] if order else masks))
    assert source.label_map == {0: 0, 1: 1, 255: 1}
    assert source.num_classes == 2 and "binary" in source.label_map_note


def test_one_bit_and_palette_masks_are_binary(tmp_path):
    one_bit = load_source(_manifest(tmp_path / "a", [_mask([1]), _mask([1])], mode="1"))
    assert one_bit.label_map == {0: 0, 1: 1} and one_bit.num_classes == 2
    palette = load_source(_manifest(tmp_path / "b", [_mask([0]), _mask([1])], mode="P"))
    assert palette.label_map == {0: 0, 1: 1}


def test_small_integer_labels_are_class_indices(tmp_path):
    source = load_source(_manifest(tmp_path, [_mask([1]), _mask([2, 3])]))
    assert source.label_map == {0: 0, 1: 1, 2: 2, 3: 3} and source.num_classes == 4


@pytest.mark.parametrize(
    "masks",
    [
        [_mask([128]), _mask([255])],  # grey levels: which is which class?
        [_mask([1]), _mask([2, 255])],  # class indices and 255 (ignore? a class?)
        [_mask([2]), _mask([2])],  # class 1 never appears
    ],
)
def test_ambiguous_values_ask_for_a_label_map_wherever_they_appear(tmp_path, masks):
    for i, order in enumerate((masks, masks[::-1])):
        with pytest.raises(SeguqError, match="--label-map") as error:
            load_source(_manifest(tmp_path / str(i), order))
        assert "cannot tell which mask value is which class" in str(error.value)


def test_a_given_label_map_wins(tmp_path):
    source = load_source(
        _manifest(tmp_path, [_mask([128]), _mask([255])]), label_map={0: 0, 128: 1, 255: 2}
    )
    assert source.num_classes == 3 and source.label_map_note == "given"


def test_train_prints_and_saves_the_inferred_map(tmp_path, capsys):
    from seguq.cli import main
    from seguq.config import load_config

    rng = np.random.default_rng(0)
    masks = [(rng.random((32, 32)) > 0.5).astype(np.uint8) * v for v in (1, 255, 255, 1)]
    manifest = _manifest(tmp_path / "data", masks)
    run = tmp_path / "run"
    argv = ["train", "--data", manifest, "--out", run, "--epochs", "1", "--steps-per-epoch", "1"]
    argv += ["--patch-size", "16", "16", "--batch-size", "2", "--no-progress"]
    assert main([str(a) for a in argv]) == 0
    out = capsys.readouterr().out
    assert "label map: 0->0, 1->1, 255->1 (binary, inferred from the values 0, 1, 255 in 4" in out
    saved = load_config(run / "config.yaml")
    assert saved.data.label_map == {0: 0, 1: 1, 255: 1} and saved.data.num_classes == 2
