"""Plain image files without masks: one file, or a folder of them."""

from __future__ import annotations

import re
from pathlib import Path

from seguq.data.case import Case
from seguq.data.io import strip_image_suffix
from seguq.data.sources.base import image_files, is_image_file

_CHANNEL = re.compile(r"^(?P<id>.+)_(?P<channel>\d{4})$")


def is_images(root: Path) -> bool:
    """A single image file, or a folder holding at least one image file."""
    if root.is_file():
        return is_image_file(root)
    return root.is_dir() and bool(image_files(root))


def _channel_groups(files: list[Path]) -> dict[str, list[Path]] | None:
    """Group nnU-Net channel files (`<id>_0000`, `<id>_0001`, ...) by id.

    Only when every file follows the pattern, every id has channels 0..k-1 with the same k, and
    either there are several ids or k == 1 (a lone `img_0000..img_0099` run is not one image
    of 100 channels).
    """
    groups: dict[str, dict[int, Path]] = {}
    for path in files:
        match = _CHANNEL.match(strip_image_suffix(path.name))
        if match is None:
            return None
        groups.setdefault(match.group("id"), {})[int(match.group("channel"))] = path
    counts = {len(channels) for channels in groups.values()}
    if len(counts) != 1:
        return None
    (k,) = counts
    if any(sorted(channels) != list(range(k)) for channels in groups.values()):
        return None
    if len(groups) == 1 and k > 1:
        return None
    return {case_id: [channels[i] for i in range(k)] for case_id, channels in groups.items()}


def read_images(root: Path) -> list[Case]:
    """Unlabelled cases from one image file or the image files directly inside a folder.

    The id is the file name without its ending(s) ("scan.nii.gz" -> "scan"). In a folder whose
    files are all nnU-Net channel files (`<id>_0000.nii.gz`, `<id>_0001.nii.gz`, ...), the
    channel files of an id form one case with that id.

    Args:
        root: an image file or a folder.

    Returns:
        The cases, sorted by file name.
    """
    root = Path(root).absolute()
    if root.is_file():
        return [Case(id=strip_image_suffix(root.name), images=(root,))]
    files = image_files(root)
    groups = _channel_groups(files)
    if groups is not None:
        return [Case(id=case_id, images=tuple(paths)) for case_id, paths in groups.items()]
    return [Case(id=strip_image_suffix(path.name), images=(path,)) for path in files]
