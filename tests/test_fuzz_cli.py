"""Malformed input through the command line, made by the tests themselves: every case ends in exit
status 2 with one line naming the file or option, or trains correctly; never a traceback, a hang
or a silently wrong model. Input files are hashed before and after."""

from __future__ import annotations

import io
import json

import nibabel as nib
import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from seguq.cli import main
from seguq.config import load_config

BUDGET = ["--epochs", "1", "--steps-per-epoch", "1", "--patch-size", "16", "16"]
BUDGET += ["--batch-size", "2", "--no-progress"]


def _png_bytes(array: np.ndarray, mode: str | None = None) -> bytes:
    picture = Image.fromarray(array)
    if mode:
        picture = picture.convert(mode)
    buffer = io.BytesIO()
    picture.save(buffer, format="TIFF" if mode == "CMYK" else "PNG")
    return buffer.getvalue()


def _grey(seed=0, size=24) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (size, size), dtype=np.uint8)


def _binary_mask(seed=0, size=24) -> np.ndarray:
    return (np.random.default_rng(seed).random((size, size)) > 0.6).astype(np.uint8) * 255


def _manifest(folder, images: dict[str, bytes], masks: dict[str, bytes], text: str | None = None):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in {**images, **masks}.items():
        (folder / name).write_bytes(data)
    if text is None:
        rows = [
            f"c{i},{img},{mask}" for i, (img, mask) in enumerate(zip(images, masks, strict=True))
        ]
        text = "id,image,mask\n" + "\n".join(rows) + "\n"
    (folder / "manifest.csv").write_text(text, encoding="utf-8")
    return folder / "manifest.csv"


def _good(folder, n=3, image=None, mask=None, image_name="i{}.png"):
    images = {
        image_name.format(i): _png_bytes(_grey(i)) if image is None else image for i in range(n)
    }
    masks = {f"m{i}.png": _png_bytes(_binary_mask(i)) if mask is None else mask for i in range(n)}
    return images, masks


def _check_train(data, tmp_path, capsys, unchanged) -> tuple[int, str]:
    """Train on `data`: exit 0, or 2 with exactly one error line; inputs never change."""
    run = tmp_path / "run"
    watched = data.parent if data.is_file() else data
    with unchanged(watched):
        capsys.readouterr()
        code = main(["train", "--data", str(data), "--out", str(run), *BUDGET])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code in (0, 2), err
    if code == 2:
        lines = [line for line in err.splitlines() if line.startswith("seguq: error: ")]
        assert len(lines) == 1, err
        return code, lines[0]
    return code, ""


def _hand_cases(tmp_path):
    """name -> (data path, expected substring of the error, or None for success)."""
    cases = {}

    def add(name, maker, expected):
        cases[name] = (maker(tmp_path / name), expected)

    add("zero-byte image", lambda f: _manifest(f, *_good(f, image=b"")), "i0.png")
    good = _png_bytes(_grey())
    add("truncated image", lambda f: _manifest(f, *_good(f, image=good[:60])), "i0.png")
    add(
        "text renamed to png",
        lambda f: _manifest(f, *_good(f, image=b"hello, not an image")),
        "not an image",
    )
    add("jpeg named png", lambda f: _manifest(f, *_good(f, image=_jpeg())), None)
    add("16-bit image", lambda f: _manifest(f, *_good(f, image=_png16())), None)
    add("RGBA image", lambda f: _manifest(f, *_good(f, image=_png_bytes(_grey(), "RGBA"))), None)
    add("palette image", lambda f: _manifest(f, *_good(f, image=_png_bytes(_grey(), "P"))), None)
    add(
        "CMYK image",
        lambda f: _manifest(f, *_good(f, image=_png_bytes(_grey(), "CMYK"), image_name="i{}.tif")),
        None,
    )
    add(
        "NaN image",
        lambda f: _manifest(f, *_good(f, image=_nan_tiff(), image_name="i{}.tif")),
        "NaN",
    )
    add(
        "odd mask values",
        lambda f: _manifest(f, *_good(f, mask=_png_bytes(np.full((24, 24), 77, np.uint8)))),
        "--label-map",
    )
    add(
        "mask of another shape",
        lambda f: _manifest(f, *_good(f, mask=_png_bytes(_binary_mask(0, 20)))),
        "does not match the shape",
    )
    add("ragged manifest", lambda f: _ragged(f), "cells, the header has 3 columns")
    add("BOM manifest", lambda f: _bom(f), None)
    add("header only", lambda f: _manifest(f, {}, {}, "id,image,mask\n"), "holds no cases")
    add("not UTF-8", lambda f: _not_utf8(f), "manifest.csv")
    add("missing file", lambda f: _missing(f), "does not exist")
    add("broken dataset.json", lambda f: _msd(f, "{not json"), "dataset.json")
    add("dataset.json without labels", lambda f: _msd(f, json.dumps({"name": "x"})), "labels")
    add("symlink loop", lambda f: _loop(f), "does not exist")
    return cases


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_grey()).save(buffer, format="JPEG")
    return buffer.getvalue()


def _png16() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_grey().astype(np.uint16) * 200).save(buffer, format="PNG")
    return buffer.getvalue()


def _nan_tiff() -> bytes:
    image = _grey().astype(np.float32)
    image[3, 3] = np.nan
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, image)
    return buffer.getvalue()


def _ragged(folder):
    images, masks = _good(folder)
    return _manifest(folder, images, masks, "id,image,mask\nc0,i0.png,m0.png\nc1,i1.png,m1.png,x\n")


def _bom(folder):
    images, masks = _good(folder)
    rows = "".join(f"c{i},i{i}.png,m{i}.png\n" for i in range(3))
    path = _manifest(folder, images, masks)
    path.write_bytes(b"\xef\xbb\xbf" + ("id,image,mask\n" + rows).encode())
    return path


def _not_utf8(folder):
    path = _manifest(folder, *_good(folder))
    path.write_bytes(b"id,image,mask\nc\xff\xfe,i0.png,m0.png\n")
    return path


def _missing(folder):
    images, masks = _good(folder)
    return _manifest(folder, images, masks, "id,image,mask\nc0,i0.png,m0.png\nc1,gone.png,m1.png\n")


def _msd(folder, text):
    (folder / "imagesTr").mkdir(parents=True)
    (folder / "labelsTr").mkdir()
    nib.save(
        nib.Nifti1Image(np.zeros((8, 8, 4), np.float32), np.eye(4)),
        folder / "imagesTr" / "a_0000.nii.gz",
    )
    (folder / "dataset.json").write_text(text)
    return folder


def _loop(folder):
    folder.mkdir()
    (folder / "a").symlink_to(folder / "b")
    (folder / "b").symlink_to(folder / "a")
    return folder / "a"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return _hand_cases(tmp_path_factory.mktemp("corpus"))


CASE_NAMES = [
    "zero-byte image",
    "truncated image",
    "text renamed to png",
    "jpeg named png",
    "16-bit image",
    "RGBA image",
    "palette image",
    "CMYK image",
    "NaN image",
    "odd mask values",
    "mask of another shape",
    "ragged manifest",
    "BOM manifest",
    "header only",
    "not UTF-8",
    "missing file",
    "broken dataset.json",
    "dataset.json without labels",
    "symlink loop",
]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_hand_made_bad_input(corpus, name, tmp_path, capsys, unchanged):
    data, expected = corpus[name]
    code, err = _check_train(data, tmp_path, capsys, unchanged)
    if expected is None:
        assert code == 0, err
        saved = load_config(tmp_path / "run" / "config.yaml")
        assert saved.data.num_classes == 2  # binary masks: never a 256-class model
    else:
        assert code == 2 and expected in err, err
        assert not (tmp_path / "run").exists()


LIKELY_VALUES = st.sampled_from([0, 0, 1, 2, 3, 7, 128, 255, 255])


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    mask_values=st.lists(
        st.sets(st.one_of(LIKELY_VALUES, st.integers(0, 255)), min_size=1, max_size=4),
        min_size=2,
        max_size=4,
    ),
    image_bytes=st.one_of(st.none(), st.none(), st.none(), st.binary(max_size=200)),
    ragged=st.sampled_from([None, None, None, None, 2, 4]),
)
def test_generated_bad_input(tmp_path_factory, capsys, unchanged, mask_values, image_bytes, ragged):
    folder = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(len(mask_values))
    lines = ["id,image,mask"]
    for i, values in enumerate(mask_values):
        mask = rng.choice(sorted(values), size=(24, 24)).astype(np.uint8)
        (folder / f"m{i}.png").write_bytes(_png_bytes(mask))
        data = image_bytes if image_bytes is not None and i == 0 else _png_bytes(_grey(i))
        (folder / f"i{i}.png").write_bytes(data)
        row = [f"c{i}", f"i{i}.png", f"m{i}.png", "x"]
        lines.append(",".join(row[: ragged if ragged and i == 1 else 3]))
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")
    run_parent = tmp_path_factory.mktemp("fuzzrun")
    code, err = _check_train(folder / "manifest.csv", run_parent, capsys, unchanged)
    if code == 0:
        union = set().union(*mask_values)
        saved = load_config(run_parent / "run" / "config.yaml")
        # A model only ever has the classes the masks say: binary, or 0..n-1 all present.
        binary = all(v <= {0, 1} or v <= {0, 255} for v in mask_values)
        expected = 2 if binary else max(union) + 1
        assert saved.data.num_classes == expected and expected <= 32
