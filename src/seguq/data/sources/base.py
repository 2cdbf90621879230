"""The Source record, label maps and the small helpers shared by the layout readers."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seguq.data.case import Case
from seguq.data.io import IMAGE_SUFFIXES, read_mask
from seguq.errors import SeguqError

BINARY_LABEL_MAP: dict[int, int] = {0: 0, 255: 1}
# Integer masks whose values all lie below this are read as class indices (0 = background).
SMALL_LABELS = 32


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
        label_map_note: how the label map was decided (given, the layout's, inferred from...).
        modalities: the channels' modalities when the layout says ("CT", "MRI", ...), else ().
    """

    name: str
    root: Path
    layout: str
    cases: tuple[Case, ...]
    label_map: dict[int, int]
    class_names: tuple[str, ...]
    label_map_note: str = ""
    modalities: tuple[str, ...] = ()

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


@functools.lru_cache(maxsize=65536)
def _values_of(path: str, mtime_ns: int, size: int) -> frozenset[int]:
    raw, _ = read_mask(Path(path))
    return frozenset(int(v) for v in np.unique(raw))


def mask_values(cases: Sequence[Case]) -> list[frozenset[int]]:
    """Raw values of every annotator's mask of every labelled case (cached per file version).

    Raises:
        SeguqError: a mask cannot be read (from read_mask).
    """
    found: list[frozenset[int]] = []
    for case in cases:
        for mask in case.masks:
            stat = Path(mask).stat()
            found.append(_values_of(str(mask), stat.st_mtime_ns, stat.st_size))
    return found


def _binary(values: frozenset[int]) -> bool:
    return values <= {0, 1} or values <= {0, 255}


def infer_label_map(cases: Sequence[Case], source_name: str) -> tuple[dict[int, int], str]:
    """The default label map of a manifest, from the values of all its masks.

    Every mask within {0, 1} or {0, 255}: binary (1 and 255 are foreground); otherwise, when
    the values are the integers 0..n-1 (n <= SMALL_LABELS) with none missing, the identity.
    Anything else is ambiguous. No labelled case gives {}.

    Returns:
        (raw value -> class index, a one-line description of how it was decided).

    Raises:
        SeguqError: a mask cannot be read, or its values do not say which value is which class.
    """
    found = mask_values(cases)
    if not found:
        return {}, ""
    union = frozenset().union(*found)
    seen = f"values {_short_list(sorted(union))} in {len(found)} masks"
    if all(_binary(values) for values in found):
        label_map = {0: 0}
        if 1 in union:
            label_map[1] = 1
        if 255 in union or union == {0}:
            label_map[255] = 1
        return label_map, f"binary, inferred from the {seen}"
    high = max(union)
    if min(union) >= 0 and high < SMALL_LABELS and union == set(range(high + 1)):
        return {v: v for v in range(high + 1)}, f"class indices, inferred from the {seen}"
    example = ",".join(f"{v}:{i}" for i, v in enumerate(sorted(union)[:6]))
    raise SeguqError(
        f"{source_name}: cannot tell which mask value is which class ({seen}); give the label "
        f"map with --label-map (data.label_map), e.g. --label-map {example}"
    )


def _short_list(values: Sequence[int], limit: int = 10) -> str:
    items = [str(v) for v in values[:limit]]
    if len(values) > limit:
        items.append(f"... ({len(values)} values)")
    return ", ".join(items)


def is_visible(path: Path) -> bool:
    """False for hidden files and macOS "._" resource files."""
    return not path.name.startswith(".")


def is_image_file(path: Path) -> bool:
    """A visible file whose name ends with a supported image ending."""
    return path.is_file() and is_visible(path) and path.name.lower().endswith(IMAGE_SUFFIXES)


def image_files(folder: Path) -> list[Path]:
    """The visible image files directly inside `folder`, sorted by name."""
    return sorted(p for p in folder.iterdir() if is_image_file(p))
