"""Medical Segmentation Decathlon and nnU-Net v2 raw folders (`dataset.json`, `imagesTr/`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from seguq.data.case import Case
from seguq.data.sources.base import is_visible
from seguq.errors import SeguqError

_CHANNEL = re.compile(r"^(?P<id>.+)_(?P<channel>\d{4})$")


def is_nnunet_folder(root: Path) -> bool:
    """A folder with `dataset.json` and `imagesTr/`."""
    return (root / "dataset.json").is_file() and (root / "imagesTr").is_dir()


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SeguqError(f"{path}: cannot read dataset.json ({error})") from None
    if not isinstance(data, dict):
        raise SeguqError(f"{path}: expected a JSON object")
    return data


def _labels(dataset: dict, path: Path) -> tuple[dict[int, int], tuple[str, ...]]:
    """Label map (identity over the label values, in value order) and class names.

    MSD writes {"0": "background", "1": "anterior"}; nnU-Net v2 {"background": 0, "x": 1}.
    """
    labels = dataset.get("labels")
    if not isinstance(labels, dict) or not labels:
        raise SeguqError(f"{path}: 'labels' is missing or empty")
    by_value: dict[int, str] = {}
    try:
        if all(re.fullmatch(r"-?\d+", str(key)) for key in labels):
            by_value = {int(key): str(name) for key, name in labels.items()}
        else:
            for name, value in labels.items():
                if isinstance(value, (list, tuple)):
                    raise SeguqError(
                        f"{path}: label '{name}' is a region {value}; region-based labels are "
                        "not supported"
                    )
                by_value[int(value)] = str(name)
    except (TypeError, ValueError):
        raise SeguqError(f"{path}: 'labels' must map values to names or names to values") from None
    values = sorted(by_value)
    label_map = {value: index for index, value in enumerate(values)}
    return label_map, tuple(by_value[value] for value in values)


def read_labels(json_path: Path) -> tuple[dict[int, int], tuple[str, ...]]:
    """The label map and class names of a dataset.json (MSD or nnU-Net v2 style).

    Raises:
        SeguqError: unreadable, or no usable `labels`.
    """
    return _labels(_read_json(Path(json_path)), Path(json_path))


def _case_id(name: str, ending: str) -> str | None:
    return name[: -len(ending)] if name.endswith(ending) else None


def _scan_ids(folder: Path, ending: str) -> list[str]:
    """Case ids of a folder of `<id>_0000<ending>` or `<id><ending>` files."""
    ids: set[str] = set()
    for path in folder.iterdir():
        stem = _case_id(path.name, ending)
        if stem is None or not is_visible(path) or not path.is_file():
            continue
        match = _CHANNEL.match(stem)
        ids.add(match.group("id") if match else stem)
    return sorted(ids)


def _channel_files(folder: Path, case_id: str, ending: str, json_path: Path) -> tuple[Path, ...]:
    """`<id>_0000<ending>`, `<id>_0001<ending>`, ... if present, else `<id><ending>`."""
    files: list[Path] = []
    while (candidate := folder / f"{case_id}_{len(files):04d}{ending}").is_file():
        files.append(candidate)
    if files:
        return tuple(files)
    single = folder / f"{case_id}{ending}"
    if single.is_file():
        return (single,)
    raise SeguqError(
        f"{json_path}: case '{case_id}': neither {folder / (case_id + '_0000' + ending)} nor "
        f"{single} exists"
    )


def read_nnunet(root: Path) -> tuple[list[Case], dict[int, int], tuple[str, ...]]:
    """Read an MSD or nnU-Net v2 raw folder.

    Training case ids come from the `training` list of dataset.json when present (MSD), else
    from the file names in `imagesTr/` (nnU-Net v2). Each case's images are the channel files
    `imagesTr/<id>_0000<ending>`, `_0001`, ... when they exist, else `imagesTr/<id><ending>`;
    its label is `labelsTr/<id><ending>`. The ending is dataset.json's `file_ending`
    (default ".nii.gz"). `imagesTs/` cases are unlabelled, split "test"; training cases are
    split "train". Hidden and macOS "._" files are skipped.

    Args:
        root: the dataset folder.

    Returns:
        (cases, label map, class names).

    Raises:
        SeguqError: dataset.json is unreadable or has no usable `labels`, or a referenced image
            or label file does not exist.
    """
    root = Path(root).absolute()
    json_path = root / "dataset.json"
    dataset = _read_json(json_path)
    label_map, class_names = _labels(dataset, json_path)
    ending = str(dataset.get("file_ending", ".nii.gz"))
    images_tr, labels_tr = root / "imagesTr", root / "labelsTr"

    training = dataset.get("training")
    if isinstance(training, list) and training:
        ids = []
        for entry in training:
            image = entry.get("image") if isinstance(entry, dict) else entry
            name = Path(str(image)).name
            case_id = _case_id(name, ending)
            if case_id is None:
                raise SeguqError(f"{json_path}: training image '{image}' does not end in {ending}")
            ids.append(case_id)
    else:
        ids = _scan_ids(images_tr, ending)

    cases: list[Case] = []
    for case_id in ids:
        images = _channel_files(images_tr, case_id, ending, json_path)
        label = labels_tr / f"{case_id}{ending}"
        if not label.is_file():
            raise SeguqError(f"{json_path}: case '{case_id}': label file {label} does not exist")
        cases.append(Case(id=case_id, images=images, masks=(label,), split="train"))

    images_ts = root / "imagesTs"
    if images_ts.is_dir():
        for case_id in _scan_ids(images_ts, ending):
            images = _channel_files(images_ts, case_id, ending, json_path)
            cases.append(Case(id=case_id, images=images, split="test"))
    return cases, label_map, class_names


def read_modalities(root: Path) -> tuple[str, ...]:
    """The channels' modalities from dataset.json ("modality" in MSD, "channel_names" in
    nnU-Net v2), in channel order; () when it says none."""
    dataset = _read_json(Path(root) / "dataset.json")
    named = dataset.get("modality") or dataset.get("channel_names") or {}
    if not isinstance(named, dict):
        return ()
    try:
        return tuple(str(named[key]) for key in sorted(named, key=lambda k: int(k)))
    except (TypeError, ValueError):
        return ()
