"""Read a collection laid out as folders: ``<root>/<work_id>/<perf_id>.<ext>``, or (``works:
files``) any folder of recordings, each its own work.

Options:
    path (required): the root folder.
    extensions: audio file extensions to list, without the dot, matched case-insensitively
        (default: wav, flac, mp3, ogg, m4a, opus, webm).
    works: ``folders`` (default) or ``files``.

``folders``: every audio file exactly one folder below the root is one performance: the folder
names the work, the file stem the performance. Audio files at any other depth are ignored with a
logged warning. ``files``: every audio file at any depth below the root is a work of its own,
perf_id and work_id both its path below the root without the extension, folders joined by
`` - `` (``Artist/Album/01 Song.mp3`` -> ``Artist - Album - 01 Song``): a library with no
grouping into works, searched by `coverhunter identify` (which needs no work labels; nothing
can be trained on it). Either way other files and hidden entries (names starting with ".") are
ignored silently, rows come sorted by work_id, then perf_id, and the layout defines no split.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from coverhunter.data.sources._common import (
    AUDIO_EXTENSIONS,
    SourceError,
    choice_option,
    extensions_option,
    listing_option,
    warn_repeated_ids,
)

logger = logging.getLogger(__name__)

SOURCE = "folder"
WORKS = ("folders", "files")
# Joins the folders of a `works: files` recording into its id (ids cannot hold a path separator).
ID_JOIN = " - "


def recording_path(root: Path, work_id: str, perf_id: str, extension: str) -> Path:
    """Where this layout keeps a recording: ``<root>/<work_id>/<perf_id>.<extension>``."""
    return root / work_id / f"{perf_id}.{extension}"


def _audio_files(root: Path, extensions: set[str]) -> list[Path]:
    """The audio files below `root`, relative to it, hidden entries left out."""
    found = []
    for file in root.rglob("*"):
        relative = file.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if file.suffix.lower().lstrip(".") in extensions and file.is_file():
            found.append(relative)
    return found


def _ids(relative: Path, works: str) -> tuple[str, str] | None:
    """(perf_id, work_id) of the file at `relative` below the root; None where the layout has
    no place for it (``folders``: not exactly one folder deep)."""
    if works == "files":
        name = ID_JOIN.join((*relative.parent.parts, relative.stem))
        return name, name
    if len(relative.parts) != 2:
        return None
    return relative.stem, relative.parts[0]


def list_performances(options: Mapping[str, Any]) -> pd.DataFrame:
    """One row per audio file (see the module's docstring): perf_id, work_id, path."""
    root = listing_option(options, SOURCE, "root folder", folder=True)
    extensions = set(extensions_option(options, SOURCE, AUDIO_EXTENSIONS))
    works = choice_option(options, "works", SOURCE, WORKS, "folders")
    rows, misplaced = [], []
    for relative in _audio_files(root, extensions):
        if (ids := _ids(relative, works)) is None:
            misplaced.append(relative)
            continue
        rows.append({"perf_id": ids[0], "work_id": ids[1], "path": str(root / relative)})
    if misplaced:
        logger.warning(
            "%s: ignored %d audio file(s) not at %s/<work_id>/<perf_id>.<ext>, e.g. %s "
            "(ingest.options.works=files takes every file as a work of its own)",
            SOURCE,
            len(misplaced),
            root,
            sorted(misplaced)[0],
        )
    if not rows:
        where = f"at {root}/<work_id>/<perf_id>.<ext>" if works == "folders" else f"below {root}"
        raise SourceError(
            f"{SOURCE}: no audio files ({', '.join(sorted(extensions))}) found {where}"
        )
    table = pd.DataFrame(rows).sort_values(["work_id", "perf_id", "path"], kind="stable")
    table = table.reset_index(drop=True)
    warn_repeated_ids(table, SOURCE, root)
    return table
