"""Output folders seguq owns: marked when claimed, replaced only when marked, never when they hold
what the command reads; `--overwrite` keeps the previous result aside until the new one is
complete, so that a failed run leaves it in place.

A folder seguq writes holds `.seguq.json` ({"kind", "complete", "settings", "seguq", and once
complete "entries": the top-level names seguq wrote there}); `--overwrite` refuses a folder
holding other names (a user's notes), so that it never deletes what seguq did not write. Replacing
it moves it to `.<name>.seguq-previous` beside it; the new result is written under the real name
(paths recorded inside it stay valid) and the previous one is deleted only once the new one is
complete. A failure restores it; after a kill the next claim of the folder restores it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seguq import __version__
from seguq.engine.run_folder import is_worker_process
from seguq.errors import SeguqError

log = logging.getLogger(__name__)

MARKER = ".seguq.json"
# The marker's list of the top-level names seguq wrote in a complete folder.
ENTRIES = "entries"


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker of a folder seguq wrote, or None (no marker, or an unreadable one)."""
    path = Path(folder) / MARKER
    if not path.is_file():
        return None
    try:
        marker = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and "kind" in marker else None


def write_marker(folder: Path, marker: dict[str, Any]) -> None:
    """Write the marker atomically."""
    path = Path(folder) / MARKER
    temp = path.with_name(f".{MARKER}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(marker, indent=2))
    os.replace(temp, path)


def _names(folder: Path) -> set[str]:
    """The top-level names of a folder, its marker and hidden (temporary) files aside."""
    return {p.name for p in folder.iterdir() if not p.name.startswith(".")}


def register_outputs(folder: Path, names: Iterable[str]) -> None:
    """Add files seguq wrote into a complete seguq folder after it completed (a report, an
    evaluation) to its entries, so that `--overwrite` may replace them; nothing for a folder
    without a marker or entries."""
    marker = read_marker(folder)
    if marker is None or not isinstance(marker.get(ENTRIES), list):
        return
    marker[ENTRIES] = sorted({*marker[ENTRIES], *names})
    write_marker(folder, marker)


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_not_holding(
    folder: Path, protected: Iterable[tuple[str, Path]], option: str = "--out"
) -> None:
    """Refuse to replace a folder that is, or contains, something the command reads.

    Args:
        folder: the output folder.
        protected: (what, path) pairs, e.g. ("the input", Path("data/img.png")).
        option: how the user named the folder.

    Raises:
        SeguqError: `folder` equals or contains one of the protected paths.
    """
    target = Path(folder).resolve()
    for what, path in protected:
        if _is_within(Path(path).resolve(), target):
            raise SeguqError(
                f"{option} {folder}: holds {what} ({path}); seguq never replaces it, choose "
                "another output folder"
            )


class OutputFolder:
    """One output folder of one kind ("run", "prediction", "benchmark", "demo").

    Args:
        path: the folder.
        kind: what seguq writes there.
        option: how the user named it, for messages.
        protected: (what, path) pairs the folder must not hold when it is replaced.
    """

    def __init__(
        self,
        path: Path,
        kind: str,
        *,
        option: str = "--out",
        protected: Iterable[tuple[str, Path]] = (),
    ):
        self.path = Path(path)
        self.kind = kind
        self.option = option
        self.protected = list(protected)
        self.previous = self.path.parent / f".{self.path.name}.seguq-previous"
        self.moved_aside = False
        self.created = False
        self.present_at_start: set[str] | None = None  # names there when this claim began

    @property
    def marker(self) -> dict[str, Any] | None:
        """The folder's marker (None when absent)."""
        return read_marker(self.path)

    def holds_results(self) -> bool:
        """True when the folder exists and holds anything but its marker."""
        if self.path.exists() and not self.path.is_dir():
            raise SeguqError(f"{self.option} {self.path}: exists and is not a folder")
        return self.path.is_dir() and any(p.name != MARKER for p in self.path.iterdir())

    def recover(self) -> None:
        """Put back the previous result an interrupted `--overwrite` left aside."""
        if is_worker_process() or not self.previous.is_dir():
            return
        marker = self.marker
        if marker is not None and marker.get("complete"):
            shutil.rmtree(self.previous)
            return
        if self.path.exists() and marker is None and any(self.path.iterdir()):
            log.warning(
                "%s: an earlier --overwrite left the previous result in %s",
                self.path,
                self.previous,
            )
            return
        if self.path.exists():
            shutil.rmtree(self.path)
        os.replace(self.previous, self.path)
        log.warning(
            "%s: restored the previous result (an --overwrite run was interrupted)", self.path
        )

    def _pair(self) -> tuple[Path, Path]:
        return self.path, self.previous

    def claim(self, *, overwrite: bool, settings: dict[str, Any] | None = None) -> Path:
        """Start a new result in the folder.

        An empty or absent folder is created and marked. A non-empty one is replaced only with
        `overwrite`, only when seguq wrote it (same kind) and only when it holds nothing the
        command reads; it is kept aside until `complete`.

        Raises:
            SeguqError: the folder holds results and `overwrite` is not set, was not written by
                seguq, holds another kind of result, or holds a protected path.
        """
        if is_worker_process():
            return self.path
        self.recover()
        if self.holds_results():
            if not overwrite:
                raise SeguqError(
                    f"{self.option} {self.path}: folder exists and is not empty (use --overwrite)"
                )
            self._check_replaceable()
            os.replace(self.path, self.previous)
            self.moved_aside = True
        self.created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        self.present_at_start = _names(self.path)
        self._mark(complete=False, settings=settings)
        return self.path

    def reuse(self, settings: dict[str, Any] | None = None) -> Path:
        """Continue an unfinished result in the folder (resume): marked, nothing removed."""
        if is_worker_process():
            return self.path
        self.recover()
        self.path.mkdir(parents=True, exist_ok=True)
        self.present_at_start = _names(self.path)
        self._mark(complete=False, settings=settings)
        return self.path

    def complete(self) -> None:
        """Mark the result complete and delete the previous one kept aside."""
        if is_worker_process():
            return
        marker = self.marker or {}
        self._mark(complete=True, settings=marker.get("settings"), entries=self._entries(marker))
        if self.moved_aside and self.previous.is_dir():
            shutil.rmtree(self.previous)
        self.moved_aside = False

    def abandon(self, *, keep_partial: bool) -> None:
        """After a failure: restore the previous result, or remove a folder this claim created
        (unless `keep_partial`, e.g. a run that can resume)."""
        if is_worker_process():
            return
        if self.moved_aside:
            if self.path.exists():
                shutil.rmtree(self.path)
            os.replace(self.previous, self.path)
            self.moved_aside = False
        elif self.created and not keep_partial and self.path.exists():
            shutil.rmtree(self.path)

    def _entries(self, marker: dict[str, Any]) -> list[str]:
        """What seguq wrote here: the earlier entries and what this claim added; everything
        when nothing says otherwise (a first claim, or a folder an older seguq wrote)."""
        now = _names(self.path)
        earlier = marker.get(ENTRIES)
        if not isinstance(earlier, list) or self.present_at_start is None:
            return sorted(now)
        return sorted(now & ({*earlier} | (now - self.present_at_start)))

    def _check_replaceable(self) -> None:
        marker = self.marker
        if marker is None:
            raise SeguqError(
                f"{self.option} {self.path}: not a folder seguq wrote (no {MARKER}); seguq only "
                "replaces its own results, choose another folder or empty this one yourself"
            )
        if marker.get("kind") != self.kind:
            raise SeguqError(
                f"{self.option} {self.path}: holds a seguq {marker.get('kind')}, not a "
                f"{self.kind}; choose another folder"
            )
        check_not_holding(self.path, self.protected, self.option)
        entries = marker.get(ENTRIES)
        if isinstance(entries, list):
            foreign = sorted(_names(self.path) - set(entries))
            if foreign:
                more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
                raise SeguqError(
                    f"{self.option} {self.path}: holds {', '.join(foreign[:3])}{more}, which seguq "
                    "did not write; move them out first (--overwrite replaces only seguq's files)"
                )

    def _mark(
        self,
        *,
        complete: bool,
        settings: dict[str, Any] | None,
        entries: list[str] | None = None,
    ) -> None:
        marker: dict[str, Any] = {
            "kind": self.kind,
            "complete": complete,
            "seguq": __version__,
            "settings": settings or {},
        }
        earlier = (self.marker or {}).get(ENTRIES)
        if entries is not None or isinstance(earlier, list):
            marker[ENTRIES] = entries if entries is not None else earlier
        write_marker(self.path, marker)


def source_inputs(source: Any, what: str = "the data") -> list[tuple[str, Path]]:
    """What an output folder must not hold when it replaces a result: the source's folder and
    every image and mask file of its cases.

    Args:
        source: a `seguq.data.sources.Source`.
        what: how to name it in the message.
    """
    paths: list[tuple[str, Path]] = [(what, Path(source.root))]
    spec = Path(str(source.name))
    if spec.exists():
        paths.append((what, spec))
    for case in source.cases:
        paths += [(what, Path(p)) for p in (*case.images, *case.masks)]
    return paths


@contextmanager
def resumable_output(
    path: Path,
    kind: str,
    *,
    overwrite: bool,
    protected: Iterable[tuple[str, Path]] = (),
    legacy_file: str | None = None,
    settings: dict[str, Any] | None = None,
) -> Iterator[OutputFolder]:
    """The folder of a long job that resumes where it stopped (benchmarks).

    Absent or empty: created. Holding an earlier run of the same kind (marked, or written by an
    older seguq, i.e. holding `legacy_file`): continued. With `overwrite`: replaced, the old one
    kept aside until the job completes. A failure keeps what was done (resumable), except after
    `overwrite`, where the previous result comes back. `settings` (what the results depend on)
    are recorded in the marker; a folder recorded with other settings is not continued.

    Raises:
        SeguqError: the folder holds something else, or the same kind with other settings; or
            what `OutputFolder.claim` raises.
    """
    folder = OutputFolder(path, kind, protected=protected)
    if settings is not None:  # compared with the marker's JSON: lists, not tuples
        settings = json.loads(json.dumps(settings, default=str))
    if overwrite:
        folder.claim(overwrite=True, settings=settings)
    elif folder.holds_results():
        marker = folder.marker
        legacy = legacy_file is not None and (folder.path / legacy_file).is_file()
        if (marker is None and not legacy) or (marker is not None and marker["kind"] != kind):
            raise SeguqError(
                f"--out {folder.path}: holds something other than a seguq {kind}; choose "
                "another folder"
            )
        earlier = (marker or {}).get("settings")
        if settings is not None and earlier and earlier != settings:
            changed = sorted(k for k in {*earlier, *settings} if earlier.get(k) != settings.get(k))
            raise SeguqError(
                f"--out {folder.path}: holds a seguq {kind} with other settings "
                f"({', '.join(changed)}); use another --out, or --overwrite to replace it"
            )
        folder.reuse(settings if settings is not None else earlier)
    else:
        folder.claim(overwrite=False, settings=settings)
    try:
        yield folder
    except BaseException:
        folder.abandon(keep_partial=True)
        raise
    folder.complete()
