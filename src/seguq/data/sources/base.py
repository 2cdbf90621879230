"""The Source record, label maps and the small helpers shared by the layout readers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from seguq.data.case import Case
from seguq.data.io import IMAGE_SUFFIXES, read_mask
from seguq.errors import SeguqError

BINARY_LABEL_MAP: dict[int, int] = {0: 0, 255: 1}
# How many masks the default label map looks at (reading masks is the slow part of loading).
MASKS_TO_INSPECT = 8


@dataclass(frozen=True)
class Source:
    """A data source: its cases and how to read their masks.

    Attributes:
        name: what the user passed (a path string or "synthetic...").
        root: the folder that paths are relative to (the CSV's folder, the dataset folder).
        layout: "manifest" | "msd" | "fundus" | "prostate" | "images" | "synthetic".
        cases: every case, in a stable order.
        label_map: raw mask value -> class index ({} when nothing is known about classes).
        class_names: class index -> name; [0] is background (() when unknown).
    """

    name: str
    root: Path
    layout: str
    cases: tuple[Case, ...]
    label_map: dict[int, int]
    class_names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        """Number of classes, background included (0 for an unlabelled source without names)."""
        return len(self.class_names)

    @property
    def domains(self) -> list[str]:
        """The distinct domains of the cases, sorted ("" for single-domain sources)."""
        return sorted({case.domain for case in self.cases})

    @property
    def num_raters(self) -> int:
        """The largest number of masks (annotators) of any case (0 if none is labelled)."""
        return max((len(case.masks) for case in self.cases), default=0)


def parse_label_map(text: str) -> dict[int, int]:
    """Parse a label map written as "raw:class,raw:class".

    Args:
        text: e.g. "0:0,128:1,255:2".

    Returns:
        {raw value: class index}, e.g. {0: 0, 128: 1, 255: 2}.

    Raises:
        SeguqError: a pair is not two integers, a class index is negative, a raw value repeats,
            or the text is empty.
    """
    result: dict[int, int] = {}
    pairs = [part.strip() for part in str(text).split(",") if part.strip()]
    if not pairs:
        raise SeguqError(f"label map '{text}': empty (expected e.g. '0:0,255:1')")
    for pair in pairs:
        raw, sep, index = pair.partition(":")
        try:
            key, value = int(raw.strip()), int(index.strip())
        except ValueError:
            key = value = None
        if not sep or key is None or value is None:
            raise SeguqError(
                f"label map '{text}': bad entry '{pair}' (expected raw:class, e.g. '255:1')"
            )
        if value < 0:
            raise SeguqError(f"label map '{text}': class index {value} is negative")
        if key in result:
            raise SeguqError(f"label map '{text}': raw value {key} appears twice")
        result[key] = value
    return result


def default_class_names(num_classes: int) -> tuple[str, ...]:
    """("background", "class1", ..., "class{num_classes-1}")."""
    return ("background",) + tuple(f"class{i}" for i in range(1, num_classes))


def classes_in(label_map: dict[int, int]) -> int:
    """Number of classes a label map implies (largest index + 1; 0 for an empty map)."""
    return max(label_map.values()) + 1 if label_map else 0


def mask_values(cases: Sequence[Case], limit: int = MASKS_TO_INSPECT) -> list[set[int]]:
    """Raw values of the first annotator's mask of the first `limit` labelled cases.

    Raises:
        SeguqError: a mask cannot be read (from read_mask).
    """
    found: list[set[int]] = []
    for case in cases:
        if case.mask is None:
            continue
        raw, _ = read_mask(case.mask)
        found.append({int(v) for v in set(raw.ravel().tolist())})
        if len(found) >= limit:
            break
    return found


def infer_label_map(cases: Sequence[Case]) -> dict[int, int]:
    """The default label map of a manifest (documented in the package docstring).

    The first mask with any non-zero value among the first few decides: values within {0, 255}
    give {0: 0, 255: 1}; otherwise identity over 0..(largest value in the first few masks).
    No labelled case gives {}.

    Raises:
        SeguqError: a mask cannot be read, or holds negative values.
    """
    found = mask_values(cases)
    if not found:
        return {}
    deciding = next((values for values in found if values - {0}), found[0])
    if deciding <= {0, 255}:
        return dict(BINARY_LABEL_MAP)
    low = min(min(values) for values in found)
    if low < 0:
        first = next(case.mask for case in cases if case.mask is not None)
        raise SeguqError(f"{first}: mask holds negative values; give a label map")
    high = max(max(values) for values in found)
    return {value: value for value in range(high + 1)}


def is_visible(path: Path) -> bool:
    """False for hidden files and macOS "._" resource files."""
    return not path.name.startswith(".")


def is_image_file(path: Path) -> bool:
    """A visible file whose name ends with a supported image ending."""
    return path.is_file() and is_visible(path) and path.name.lower().endswith(IMAGE_SUFFIXES)


def image_files(folder: Path) -> list[Path]:
    """The visible image files directly inside `folder`, sorted by name."""
    return sorted(p for p in folder.iterdir() if is_image_file(p))
