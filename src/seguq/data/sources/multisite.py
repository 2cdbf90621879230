"""Multi-site benchmark folders: `<DOMAIN>/<split>/[ROIs/]{image,mask}/*.png`.

The fundus optic disc/cup benchmark nests its images under `ROIs/`
(`DomainN/{train,test}/ROIs/{image,mask}`); the prostate benchmark (and the M&Ms cardiac one)
does not (`<SITE>/{train,test}/{image,mask}`).
"""

from __future__ import annotations

from pathlib import Path

from seguq.data.case import Case
from seguq.data.io import strip_image_suffix
from seguq.data.sources.base import default_class_names, image_files, is_visible, mask_values

FUNDUS_LABEL_MAP = {255: 0, 128: 1, 0: 2}
FUNDUS_CLASSES = ("background", "disc_rim", "cup")
PROSTATE_LABEL_MAP = {255: 0, 0: 1}
PROSTATE_CLASSES = ("background", "prostate")
MNMS_LABEL_MAP = {0: 0, 1: 1, 2: 2, 3: 3}
MNMS_CLASSES = ("background", "LV", "MYO", "RV")


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and is_visible(p))


def _split_folders(root: Path, nested: tuple[str, ...]) -> list[tuple[str, str, Path]]:
    """(domain, split, folder holding image/ and mask/) for every match under root."""
    found = []
    for domain in _subdirs(root):
        for split in _subdirs(domain):
            folder = split.joinpath(*nested)
            if (folder / "image").is_dir():
                found.append((domain.name, split.name, folder))
    return found


def is_fundus_folder(root: Path) -> bool:
    """Children look like `DomainN/<split>/ROIs/{image,mask}`."""
    return bool(_split_folders(root, ("ROIs",)))


def is_prostate_folder(root: Path) -> bool:
    """Children look like `<SITE>/<split>/{image,mask}`."""
    return bool(_split_folders(root, ()))


def _find_mask(mask_dir: Path, image: Path) -> Path | None:
    """The mask with the image's file name, else one with the same name and another ending."""
    same = mask_dir / image.name
    if same.is_file():
        return same
    stem = strip_image_suffix(image.name)
    return next((p for p in image_files(mask_dir) if strip_image_suffix(p.name) == stem), None)


def _read_multisite(root: Path, nested: tuple[str, ...]) -> list[Case]:
    """Cases with id `<domain>_<split>_<file stem>` (file names repeat across splits).

    An image without a mask of the same name (or no `mask/` folder) is an unlabelled case:
    the published ProstateSlice sample has such an image (I2CVB/train/00_03). Masks without
    an image are ignored.
    """
    cases: list[Case] = []
    for domain, split, folder in _split_folders(root, nested):
        mask_dir = folder / "mask"
        for image in image_files(folder / "image"):
            mask = _find_mask(mask_dir, image) if mask_dir.is_dir() else None
            masks = (mask,) if mask is not None else ()
            case_id = f"{domain}_{split}_{strip_image_suffix(image.name)}"
            cases.append(Case(id=case_id, images=(image,), masks=masks, domain=domain, split=split))
    return cases


def read_fundus(root: Path) -> tuple[list[Case], dict[int, int], tuple[str, ...]]:
    """Read the fundus domain-generalisation layout.

    Mask grey levels 255 background, 128 disc rim, 0 cup -> classes 0, 1, 2.

    Args:
        root: the folder holding `Domain1/`, `Domain2/`, ...

    Returns:
        (cases, label map, class names); images without a mask are unlabelled cases.
    """
    cases = _read_multisite(Path(root).absolute(), ("ROIs",))
    return cases, dict(FUNDUS_LABEL_MAP), FUNDUS_CLASSES


def read_prostate(root: Path) -> tuple[list[Case], dict[int, int], tuple[str, ...]]:
    """Read the prostate multi-site layout (also M&Ms `vendorX/{train,test}/{image,mask}`).

    The label map is chosen from the raw values (read_mask) of the first few masks:
    values within {0, 255} -> prostate ({255: 0, 0: 1}; 0 is the prostate); values within
    {0, 1, 2, 3} (M&Ms RGB masks decode to these) -> cardiac (identity; background, LV, MYO,
    RV); anything else -> identity over 0..largest value with generic class names.

    Args:
        root: the folder holding one sub-folder per site or vendor.

    Returns:
        (cases, label map, class names).

    Raises:
        SeguqError: one of the masks inspected is unreadable.
    """
    cases = _read_multisite(Path(root).absolute(), ())
    found = frozenset().union(*mask_values(cases))
    if not found or found <= {0, 255}:
        return cases, dict(PROSTATE_LABEL_MAP), PROSTATE_CLASSES
    if found <= {0, 1, 2, 3}:
        return cases, dict(MNMS_LABEL_MAP), MNMS_CLASSES
    high = max(found)
    return cases, {v: v for v in range(high + 1)}, default_class_names(high + 1)
