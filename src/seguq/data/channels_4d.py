"""Whether a 4D NIfTI volume's last axis is channels: only when that is said, never guessed."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib

from seguq.errors import SeguqError

# NIfTI intent code of a vector per voxel: the file itself says its 4th axis is channels.
_INTENT_VECTOR = 1007


def check_channels_4d(path: Path, shape: tuple[int, ...]) -> None:
    """A 4D volume is read as channels only when that is said: a dataset.json beside its folder
    naming that many channels (MSD `modality`, nnU-Net v2 `channel_names`), or a vector intent
    in the header. Otherwise the last axis could as well be time, and guessing is refused."""
    channels = shape[3]
    for folder in (path.parent, path.parent.parent):
        named = _named_channels(folder / "dataset.json")
        if named == channels:
            return
    header = nib.load(path).header
    if int(header.get("intent_code", 0)) == _INTENT_VECTOR or shape[3:4] == (1,):
        return
    raise SeguqError(
        f"{path}: a 4D volume {tuple(shape)}, whose last axis may be channels or time; seguq "
        f"reads it as {channels} channels only when a dataset.json beside its folder names "
        f"{channels} channels (or the header's intent is a vector); otherwise give one file per "
        "channel (<id>_0000, <id>_0001, ...)"
    )


def _named_channels(dataset_json: Path) -> int | None:
    """How many channels a dataset.json names, or None."""
    if not dataset_json.is_file():
        return None
    try:
        data = json.loads(dataset_json.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    named = data.get("channel_names") or data.get("modality") if isinstance(data, dict) else None
    return len(named) if isinstance(named, dict) else None
