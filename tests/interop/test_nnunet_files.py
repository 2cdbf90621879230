"""nnU-Net's per-case probability files onto seguq's grid: axis order, reorientation, v1 crops,
pickles that would run code; with nnU-Net's own readers where nnunetv2 is importable."""

import json
import os
import pickle

import nibabel as nib
import numpy as np
import pytest

from seguq.data.io import read_image
from seguq.errors import SeguqError
from seguq.interop.nnunet_files import nnunet_layout, read_probabilities
from seguq.interop.safe_pickle import load_plain_pickle

# Permuted and flipped: a voxel grid whose nibabel and SimpleITK axes plainly differ.
AFFINE = np.array(
    [[0.0, 0.0, -2.0, 30.0], [1.2, 0.0, 0.0, -4.0], [0.0, 1.5, 0.0, 7.0], [0, 0, 0, 1.0]]
)


def _volume(path, shape=(7, 9, 11), affine=AFFINE, seed=0):
    image = np.random.default_rng(seed).random(shape).astype(np.float32)
    nib.save(nib.Nifti1Image(image, affine), path)
    return image


def _probabilities(image):
    """(2, *spatial) class probabilities that depend on every voxel's own intensity."""
    return np.stack([1.0 - image, image]).astype(np.float32)


def _save_case(folder, case_id, array, properties):
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / f"{case_id}.npz", probabilities=array)
    (folder / f"{case_id}.pkl").write_bytes(pickle.dumps(properties))


def test_documented_axis_order_maps_back_to_the_nifti_grid(tmp_path):
    image = _volume(tmp_path / "case_0000.nii.gz")
    _, geometry = read_image(tmp_path / "case_0000.nii.gz")
    # nnU-Net's arrays are SimpleITK's: (K, Z, Y, X) for nibabel's (X, Y, Z).
    nnunet = _probabilities(image).transpose(0, 3, 2, 1)
    _save_case(tmp_path / "fold0", "case", nnunet, {"spacing": [1.5, 1.2, 2.0]})
    probs = read_probabilities(tmp_path / "fold0" / "case.npz", geometry)
    np.testing.assert_array_equal(probs, _probabilities(image))


def test_seguq_writes_what_it_reads(tmp_path):
    image = _volume(tmp_path / "case.nii.gz")
    _, geometry = read_image(tmp_path / "case.nii.gz")
    array, properties = nnunet_layout(_probabilities(image), geometry)
    assert array.shape == (2, 11, 9, 7)
    assert properties["spacing"] == pytest.approx(list(geometry.spacing)[::-1])
    _save_case(tmp_path / "f", "case", array, properties)
    np.testing.assert_array_equal(
        read_probabilities(tmp_path / "f" / "case.npz", geometry), _probabilities(image)
    )


def test_v1_softmax_of_the_crop_box_is_put_back(tmp_path):
    image = _volume(tmp_path / "case.nii.gz")
    _, geometry = read_image(tmp_path / "case.nii.gz")
    full = _probabilities(image).transpose(0, 3, 2, 1)  # (2, 11, 9, 7)
    box = [[2, 9], [1, 8], [0, 7]]
    crop = full[:, 2:9, 1:8, 0:7].astype(np.float16)
    (tmp_path / "v1").mkdir()
    np.savez_compressed(tmp_path / "v1" / "case.npz", softmax=crop)
    props = {"crop_bbox": box, "original_size_of_raw_data": np.array([11, 9, 7])}
    (tmp_path / "v1" / "case.pkl").write_bytes(pickle.dumps(props))
    probs = read_probabilities(tmp_path / "v1" / "case.npz", geometry)
    inside = np.zeros(full.shape[1:], bool)
    inside[2:9, 1:8, 0:7] = True
    inside = inside.transpose(2, 1, 0)
    np.testing.assert_allclose(probs[:, inside], _probabilities(image)[:, inside], atol=1e-3)
    assert (probs[0, ~inside] == 1).all() and (probs[1, ~inside] == 0).all()


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_pickle_that_would_run_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "case.pkl"
    path.write_bytes(pickle.dumps({"spacing": [1, 1, 1], "x": _RunsCode()}))
    with pytest.raises(SeguqError, match=r"case\.pkl.*refusing 'posix\.system'.*nothing was run"):
        load_plain_pickle(path)
    assert not (tmp_path / "pwned").exists()
    plain = {"a": np.arange(3), "b": (np.float64(1.5), np.int64(2)), "c": [[0, 4]]}
    path.write_bytes(pickle.dumps(plain))
    loaded = load_plain_pickle(path)
    np.testing.assert_array_equal(loaded["a"], plain["a"]) and loaded["c"] == [[0, 4]]
    assert loaded["b"] == (1.5, 2)


def test_a_shape_that_does_not_fit_the_image_is_one_line(tmp_path):
    image = _volume(tmp_path / "case.nii.gz")
    _, geometry = read_image(tmp_path / "case.nii.gz")
    _save_case(tmp_path / "f", "case", _probabilities(image), {})  # nibabel order: wrong
    with pytest.raises(SeguqError, match=r"case\.npz: probabilities of spatial shape"):
        read_probabilities(tmp_path / "f" / "case.npz", geometry)
    sigmoid = np.stack([image, image])  # region-based outputs do not sum to 1
    _save_case(tmp_path / "f", "case", sigmoid.transpose(0, 3, 2, 1), {})
    with pytest.raises(SeguqError, match="region-based"):
        read_probabilities(tmp_path / "f" / "case.npz", geometry)


@pytest.mark.parametrize("reader", ["SimpleITKIO", "NibabelIOWithReorient"])
def test_nnunet_own_readers_axes_map_back(tmp_path, reader):
    """The arrays nnU-Net's own readers make (SimpleITK, and nibabel turned to RAS) come back
    on nibabel's grid of the input, voxel for voxel."""
    pytest.importorskip("SimpleITK")
    io = pytest.importorskip("nnunetv2.imageio.reader_writer_registry")
    from batchgenerators.utilities.file_and_folder_operations import save_pickle

    image = _volume(tmp_path / "case_0000.nii.gz")
    data, properties = io.recursive_find_reader_writer_by_name(reader)().read_images(
        [str(tmp_path / "case_0000.nii.gz")]
    )
    probs_nnunet = _probabilities(data[0])
    shape = list(data.shape[1:])
    properties |= {
        "shape_before_cropping": shape,
        "bbox_used_for_cropping": [[0, s] for s in shape],
        "shape_after_cropping_and_before_resampling": shape,
    }
    (tmp_path / "fold0").mkdir()
    np.savez_compressed(tmp_path / "fold0" / "case.npz", probabilities=probs_nnunet)
    save_pickle(properties, str(tmp_path / "fold0" / "case.pkl"))
    _, geometry = read_image(tmp_path / "case_0000.nii.gz")
    probs = read_probabilities(tmp_path / "fold0" / "case.npz", geometry)
    np.testing.assert_allclose(probs, _probabilities(image), atol=1e-6)


def test_written_files_pass_through_nnunet_ensembling(tmp_path):
    """nnU-Net's own `ensemble_folders` reads two folders seguq wrote and writes the mask that
    seguq would, on the input's affine."""
    pytest.importorskip("SimpleITK")
    ensemble = pytest.importorskip("nnunetv2.ensembling.ensemble")
    from seguq.interop.nnunet_files import write_case, write_folder_files

    image = _volume(tmp_path / "case.nii.gz")
    _, geometry = read_image(tmp_path / "case.nii.gz")
    for k, power in enumerate((1.0, 2.0)):
        fg = image**power
        write_case(tmp_path / f"p{k}", "case", np.stack([1 - fg, fg]), geometry)
        write_folder_files(tmp_path / f"p{k}", ["background", "blob"], "nifti", ".nii.gz")
    ensemble.ensemble_folders(
        [str(tmp_path / "p0"), str(tmp_path / "p1")], str(tmp_path / "e"), num_processes=1
    )
    out = nib.load(tmp_path / "e" / "case.nii.gz")
    np.testing.assert_allclose(out.affine, AFFINE, atol=1e-5)
    expected = ((image + image**2) / 2 > 0.5).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(out.dataobj), expected)
    assert json.loads((tmp_path / "p0" / "dataset.json").read_text())["labels"]["blob"] == 1
