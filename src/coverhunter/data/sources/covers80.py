"""Read the covers80 collection (LabROSA): 80 works, two performances each.

The release unpacks to ``coversongs/covers32k/``, which holds one folder per work with its
mp3 files (``covers32k/<song>/<file>.mp3``) and two list files, ``list1.list`` and
``list2.list``, each line a ``<song>/<file>`` without extension: list1 holds one performance
of every work and list2 the other. The work is the song folder; the performance is the file
stem (``artist+album+NN-title``), which is unique across the collection: the CoverHunter
authors flatten the files into one folder by it. Stems that repeat are an error.

Options:
    path (required): the ``covers32k`` folder, or a folder holding it (e.g. ``coversongs``).
    lists: the list files, relative to the ``covers32k`` folder (default: list1.list,
        list2.list). Each row's ``list_file`` column names the list (stem) it came from.
    audio_root: folder holding ``<song>/<file>.<ext>`` (default: the ``covers32k`` folder;
        point it at a converted copy such as ``wav_16k`` to read that instead).
    extensions: audio extensions to look for, first existing wins (default: mp3, then wav,
        flac, ogg, m4a, opus, webm).

covers80 defines no train/val/test split (it is an evaluation set). A list line that is not
``<song>/<file>`` is an error naming the file and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from coverhunter.data.sources._common import (
    AUDIO_EXTENSIONS,
    SourceError,
    audio_files_option,
    listing_option,
    require_file,
    warn_repeated_ids,
)

SOURCE = "covers80"
AUDIO_FOLDER = "covers32k"
LIST_FILES = ("list1.list", "list2.list")
EXTENSIONS = ("mp3", *(ext for ext in AUDIO_EXTENSIONS if ext != "mp3"))


def list_performances(options: Mapping[str, Any]) -> pd.DataFrame:
    """perf_id, work_id, path, list_file: one row per line of the list files, in order."""
    folder = listing_option(options, SOURCE, "folder", folder=True)
    if (folder / AUDIO_FOLDER).is_dir():
        folder = folder / AUDIO_FOLDER
    audio = audio_files_option(options, SOURCE, folder, EXTENSIONS)
    lists = options.get("lists") or LIST_FILES
    lists = [lists] if isinstance(lists, str) else list(lists)

    rows = []
    for name in lists:
        list_path = require_file(folder / str(name), SOURCE, "list file")
        for work_id, stem in _entries(list_path):
            rows.append(
                {
                    "perf_id": stem,
                    "work_id": work_id,
                    "path": str(audio.find(Path(work_id, stem))),
                    "list_file": list_path.stem,
                }
            )
    if not rows:
        raise SourceError(f"{SOURCE}: the list files {lists} in {folder} list no performances")
    table = pd.DataFrame(rows)
    warn_repeated_ids(table, SOURCE, folder)
    return table


def _entries(list_path: Path) -> list[tuple[str, str]]:
    """(song, file stem) of each non-blank line ``<song>/<file>``."""
    entries = []
    with list_path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            entry = line.strip()
            if not entry:
                continue
            parts = PurePosixPath(entry).parts
            if len(parts) != 2:
                raise SourceError(
                    f"{SOURCE}: {list_path} line {number}: expected <song>/<file>, got {entry!r}"
                )
            entries.append((parts[0], parts[1]))
    return entries
