"""Read a collection laid out as folders: ``<root>/<work_id>/<perf_id>.<ext>``.

Options:
    path (required): the root folder.
    extensions: audio file extensions to list, without the dot, matched case-insensitively
        (default: wav, flac, mp3, ogg, m4a, opus, webm).

Every audio file exactly one folder below the root is one performance: the folder names the
work, the file stem the performance. Audio files at any other depth are ignored with a logged
warning; other files and hidden entries (names starting with ".") are ignored silently. Rows
come sorted by work_id, then perf_id. The layout defines no split.
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
    extensions_option,
    listing_option,
    warn_repeated_ids,
)

logger = logging.getLogger(__name__)

SOURCE = "folder"


def recording_path(root: Path, work_id: str, perf_id: str, extension: str) -> Path:
    """Where this layout keeps a recording: ``<root>/<work_id>/<perf_id>.<extension>``."""
    return root / work_id / f"{perf_id}.{extension}"


def list_performances(options: Mapping[str, Any]) -> pd.DataFrame:
    """One row per audio file at ``<root>/<work_id>/<perf_id>.<ext>``: perf_id, work_id, path."""
    root = listing_option(options, SOURCE, "root folder", folder=True)
    extensions = set(extensions_option(options, SOURCE, AUDIO_EXTENSIONS))
    rows, misplaced = [], []
    for file in root.rglob("*"):
        relative = file.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if file.suffix.lower().lstrip(".") not in extensions or not file.is_file():
            continue
        if len(relative.parts) != 2:
            misplaced.append(relative)
            continue
        rows.append({"perf_id": file.stem, "work_id": relative.parts[0], "path": str(file)})
    if misplaced:
        logger.warning(
            "%s: ignored %d audio file(s) not at %s/<work_id>/<perf_id>.<ext>, e.g. %s",
            SOURCE,
            len(misplaced),
            root,
            sorted(misplaced)[0],
        )
    if not rows:
        raise SourceError(
            f"{SOURCE}: no audio files ({', '.join(sorted(extensions))}) found at "
            f"{root}/<work_id>/<perf_id>.<ext>"
        )
    table = pd.DataFrame(rows).sort_values(["work_id", "perf_id", "path"], kind="stable")
    table = table.reset_index(drop=True)
    warn_repeated_ids(table, SOURCE, root)
    return table
