"""Data sources: folders, manifests and generated data turned into lists of cases.

`load_source(spec)` decides the layout from `spec`, in this order:

1. `synthetic` or `synthetic:key=value,...` -> a generated data set
   (`seguq.data.synthetic.synthetic_manifest(**options)` writes a manifest, loaded as below;
   layout "synthetic"). Values that parse as int become ints, then floats; others stay strings.
2. a `.csv` file, or a folder holding `manifest.csv` -> CSV manifest (layout "manifest"):
   columns `id, image, mask` required, `domain`, `split` optional, `mask_<name>` columns are
   further annotators, other columns go to `Case.extra`; paths relative to the CSV's folder
   (see `manifest.read_manifest`). A manifest with `synthetic.json` beside it was written by
   seguq's generator: layout "synthetic", identity label map, classes background/disc_rim/cup.
   An id that repeats in different domains becomes
   `<domain>_<id>` (multi-site manifests reuse file-derived ids).
3. a folder with `dataset.json` and `imagesTr/` -> Medical Segmentation Decathlon or nnU-Net
   v2 raw folder (layout "msd"); classes from dataset.json `labels`.
4. a folder whose children look like `DomainN/<split>/ROIs/{image,mask}/` -> the fundus
   optic disc/cup benchmark (layout "fundus"): label map {255: 0, 128: 1, 0: 2}, classes
   background, disc_rim, cup.
5. a folder whose children look like `<SITE>/<split>/{image,mask}/` -> the prostate
   multi-site benchmark, also M&Ms (layout "prostate"): masks within {0, 255} give
   {255: 0, 0: 1} (background, prostate); masks within {0..3} (M&Ms RGB masks as decoded by
   `read_mask`) give the identity map with background, LV, MYO, RV. In both multi-site
   layouts case ids are `<domain>_<split>_<file stem>`, and an image without a mask of the
   same name is an unlabelled case.
6. an image file, or a folder with image files (.png .jpg .jpeg .tif .tiff .nii .nii.gz) ->
   unlabelled cases (layout "images"), id = file name without its ending(s).

The default label map of a manifest (when `label_map` is not given) is inferred from the values
of all its masks (`base.infer_label_map`): masks within {0, 1} or {0, 255} are binary (1 and
255 both foreground); integer masks holding exactly 0..n-1 are class indices; anything else is
an error asking for a label map. Sources without masks get {} unless a map is given. Default
class names are "background", "class1", ...; a given `label_map` or `class_names` always wins
over the layout's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from seguq.data.case import Case
from seguq.data.sources.base import (
    Source,
    classes_in,
    default_class_names,
    infer_label_map,
    parse_label_map,
)
from seguq.data.sources.images import is_images, read_images
from seguq.data.sources.manifest import read_manifest
from seguq.data.sources.multisite import (
    is_fundus_folder,
    is_prostate_folder,
    read_fundus,
    read_prostate,
)
from seguq.data.sources.nnunet import is_nnunet_folder, read_modalities, read_nnunet
from seguq.errors import SeguqError

__all__ = ["Source", "load_source", "parse_label_map"]

SYNTHETIC = "synthetic"
UNKNOWN_LAYOUT = (
    "not a known data layout (expected a CSV manifest, a folder with manifest.csv, an "
    "nnU-Net/MSD folder with dataset.json, a fundus or prostate multi-site folder, image "
    "files, or 'synthetic')"
)


def _option_value(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _synthetic_manifest(spec: str) -> Path:
    """Generate the synthetic data set that `spec` describes and return its manifest path."""
    options: dict[str, int | float | str] = {}
    _, _, text = spec.partition(":")
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SeguqError(f"{spec}: bad option '{item}' (expected key=value)")
        options[key.strip()] = _option_value(value.strip())
    from seguq.data.synthetic import synthetic_manifest  # lazy: generation pulls in more code

    try:
        return Path(synthetic_manifest(**options))
    except TypeError as error:
        raise SeguqError(f"{spec}: {error}") from None


def _synthetic_layout(
    manifest: Path,
) -> tuple[str, Path, list[Case], dict[int, int], tuple[str, ...]]:
    """A manifest written by seguq's synthetic generator (it leaves synthetic.json beside it)."""
    from seguq.data.synthetic import CLASS_NAMES

    identity = {k: k for k in range(len(CLASS_NAMES))}
    return "synthetic", manifest.absolute().parent, read_manifest(manifest), identity, CLASS_NAMES


def _detect(path: Path) -> tuple[str, Path, list[Case], dict[int, int] | None, tuple[str, ...]]:
    """(layout, root, cases, layout's label map or None to infer, layout's class names)."""
    if not path.exists():
        raise SeguqError(f"{path}: does not exist")
    if path.is_dir() and (path / "manifest.csv").is_file():
        path = path / "manifest.csv"
    if path.is_file() and path.suffix.lower() == ".csv":
        if (path.parent / "synthetic.json").is_file():
            return _synthetic_layout(path)
        return "manifest", path.absolute().parent, read_manifest(path), None, ()
    if path.is_dir():
        if is_nnunet_folder(path):
            return ("msd", path.absolute(), *read_nnunet(path))
        if is_fundus_folder(path):
            return ("fundus", path.absolute(), *read_fundus(path))
        if is_prostate_folder(path):
            return ("prostate", path.absolute(), *read_prostate(path))
        if not any(p for p in path.iterdir() if not p.name.startswith(".")):
            raise SeguqError(f"{path}: the folder is empty; {UNKNOWN_LAYOUT}")
    if is_images(path):
        root = path.absolute() if path.is_dir() else path.absolute().parent
        return "images", root, read_images(path), {}, ()
    raise SeguqError(f"{path}: {UNKNOWN_LAYOUT}")


def load_source(
    spec: str | Path,
    *,
    label_map: dict[int, int] | None = None,
    class_names: Sequence[str] | None = None,
) -> Source:
    """Turn a path or "synthetic..." into a Source (layouts: see the module docstring).

    Args:
        spec: a CSV file, a folder, an image file, or "synthetic[:key=value,...]".
        label_map: raw mask value -> class index; replaces the layout's own or inferred map.
        class_names: class index -> name, background first; replaces the layout's own.

    Returns:
        The source with its cases in a stable order.

    Raises:
        SeguqError: the path does not exist or matches no layout, a referenced file is
            missing, ids repeat, the source has no cases, or the class names do not fit the
            label map.
    """
    name = str(spec)
    if name == SYNTHETIC or name.startswith(SYNTHETIC + ":"):
        manifest = _synthetic_manifest(name)
        _, root, cases, own_map, own_names = _detect(manifest)
        layout = "synthetic"
    else:
        layout, root, cases, own_map, own_names = _detect(Path(spec))
    if not cases:
        raise SeguqError(f"{name}: the data source holds no cases")
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise SeguqError(f"{name}: case id '{case.id}' appears twice ({case.image})")
        seen.add(case.id)

    if label_map is not None:
        try:
            chosen_map = {int(raw): int(index) for raw, index in label_map.items()}
        except (TypeError, ValueError, AttributeError):
            raise SeguqError(f"label map {label_map!r}: expected integer raw:class pairs") from None
        note = "given"
    elif own_map is not None:
        chosen_map = dict(own_map)
        note = f"the {layout} layout's"
    else:
        chosen_map, note = infer_label_map(cases, name)
    if class_names is not None:
        names = tuple(class_names)
    elif label_map is None and own_names:
        names = tuple(own_names)
    else:
        names = default_class_names(classes_in(chosen_map)) if chosen_map else ()
    if chosen_map and len(names) != classes_in(chosen_map):
        raise SeguqError(
            f"{name}: {len(names)} class names ({', '.join(names)}) for a label map with "
            f"{classes_in(chosen_map)} classes {chosen_map}"
        )
    return Source(
        name=name,
        root=root,
        layout=layout,
        cases=tuple(cases),
        label_map=chosen_map,
        class_names=names,
        label_map_note=note if chosen_map else "",
        modalities=read_modalities(root) if layout == "msd" else (),
    )
