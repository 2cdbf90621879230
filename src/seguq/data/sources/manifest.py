"""CSV manifests: one row per case, paths relative to the CSV's folder."""

from __future__ import annotations

import csv
from pathlib import Path

from seguq.data.case import Case
from seguq.errors import SeguqError

REQUIRED_COLUMNS = ("id", "image", "mask")
# Several channel files of one image share a cell, separated by this character.
CHANNEL_SEPARATOR = ";"


def _annotator_columns(columns: list[str]) -> list[str]:
    """ "mask" first, then every "mask_<something>" column in column order."""
    return ["mask"] + [c for c in columns if c.startswith("mask_") and len(c) > len("mask_")]


def _unique_ids(csv_path: Path, rows: list[tuple[int, dict[str, str]]]) -> list[str]:
    """The case ids of the rows; an id repeated in different domains becomes `<domain>_<id>`.

    Multi-task manifests reuse file-derived ids across sites (prostate `00_00` at every site);
    within one domain a repeated id is an error.
    """
    first_line: dict[tuple[str, str], int] = {}
    counts: dict[str, int] = {}
    for line, row in rows:
        case_id, domain = row.get("id", ""), row.get("domain", "")
        if not case_id:
            raise SeguqError(f"{csv_path}: line {line}: empty id")
        if (domain, case_id) in first_line:
            raise SeguqError(
                f"{csv_path}: line {line}: duplicate id '{case_id}' (first on line "
                f"{first_line[(domain, case_id)]})"
            )
        first_line[(domain, case_id)] = line
        counts[case_id] = counts.get(case_id, 0) + 1
    ids = [
        f"{row['domain']}_{row['id']}" if counts[row["id"]] > 1 else row["id"] for _, row in rows
    ]
    taken: dict[str, int] = {}
    for (line, _), case_id in zip(rows, ids, strict=True):
        if case_id in (".", "..") or any(c in case_id for c in "/\\\0"):
            raise SeguqError(
                f"{csv_path}: line {line}: id '{case_id}' is not a file name (ids name the "
                "output files: no '/', '\\', nor '.' or '..')"
            )
        if case_id in taken:
            raise SeguqError(
                f"{csv_path}: line {line}: id '{case_id}' repeats (first on line {taken[case_id]})"
            )
        taken[case_id] = line
    return ids


def _check_cells(csv_path: Path, line: int, row: dict, expected: int) -> None:
    """A row with more or fewer cells than the header is an error (a shifted column would
    silently pair an image with the wrong mask)."""
    extra = row.get(None)
    missing = [k for k, v in row.items() if k is not None and v is None]
    if extra or missing:
        found = expected + len(extra or []) - len(missing)
        raise SeguqError(
            f"{csv_path}: line {line} has {found} cells, the header has {expected} columns"
        )


def read_manifest(csv_path: Path) -> list[Case]:
    """Read a CSV manifest into cases.

    Columns `id`, `image`, `mask` are required; `domain` and `split` are optional; every
    `mask_<name>` column is a further annotator, in column order after `mask`. An empty mask
    cell means that annotator has no mask; an empty `mask` makes the case unlabelled. An
    `image` cell may list several channel files separated by ";". Other columns go to
    `Case.extra`. Paths are relative to the CSV's folder. An id that repeats in different
    domains becomes `<domain>_<id>` for those rows (file-derived ids repeat across sites).

    Args:
        csv_path: the manifest file.

    Returns:
        The cases, in row order.

    Raises:
        SeguqError: the CSV cannot be read, lacks a required column, has a row with more or
            fewer cells than the header, an empty or duplicate id, or names a file that does not
            exist.
    """
    csv_path = Path(csv_path)
    folder = csv_path.absolute().parent
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            rows = []
            for row in reader:
                _check_cells(csv_path, reader.line_num, row, len(columns))
                rows.append(
                    (reader.line_num, {k.strip(): (v or "").strip() for k, v in row.items() if k})
                )
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise SeguqError(f"{csv_path}: cannot read the CSV manifest ({error})") from None
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise SeguqError(f"{csv_path}: column(s) {', '.join(repeated)} appear twice in the header")
    for column in REQUIRED_COLUMNS:
        if column not in columns:
            raise SeguqError(
                f"{csv_path}: missing column '{column}' (found: {', '.join(columns) or 'none'}; "
                f"required: {', '.join(REQUIRED_COLUMNS)})"
            )
    mask_columns = _annotator_columns(columns)
    known = set(mask_columns) | {"id", "image", "domain", "split"}
    extra_columns = [c for c in columns if c not in known]

    def existing(line: int, case_id: str, cell: str) -> Path:
        path = folder / cell
        if not path.is_file():
            raise SeguqError(
                f"{csv_path}: line {line} (id '{case_id}'): file {path} does not exist"
            )
        return path

    ids = _unique_ids(csv_path, rows)
    cases: list[Case] = []
    for (line, row), case_id in zip(rows, ids, strict=True):
        cells = [c.strip() for c in row.get("image", "").split(CHANNEL_SEPARATOR) if c.strip()]
        if not cells:
            raise SeguqError(f"{csv_path}: line {line} (id '{case_id}'): empty image cell")
        images = tuple(existing(line, case_id, cell) for cell in cells)
        masks: tuple[Path, ...] = ()
        if row.get("mask"):
            masks = tuple(existing(line, case_id, row[c]) for c in mask_columns if row.get(c, ""))
        cases.append(
            Case(
                id=case_id,
                images=images,
                masks=masks,
                domain=row.get("domain", ""),
                split=row.get("split", ""),
                extra={c: row.get(c, "") for c in extra_columns},
            )
        )
    return cases
