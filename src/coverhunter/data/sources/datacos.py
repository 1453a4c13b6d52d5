"""Read a Da-TACOS collection (github MTG/da-tacos) with audio of its performances.

The metadata file (e.g. ``da-tacos_benchmark_subset_metadata.json``) maps each work id to its
performances and each performance id to a record: ``{"W_163992": {"P_547131": {"work_title":
.., "work_artist": .., "perf_title": .., "perf_artist": .., "release_year": .., "work_id": ..,
"perf_id": .., "instrumental": .., "perf_artist_mbid": .., "mb_performances": {..}}}}``.
Da-TACOS ships features, not audio: the audio is the user's, one file per performance.

Options:
    path (required): the metadata JSON file.
    audio_root: folder holding the audio (default: the JSON file's folder).
    layout: ``nested`` (``<audio_root>/<work_id>/<perf_id>.<ext>``, as Da-TACOS lays out its
        feature files), ``flat`` (``<audio_root>/<perf_id>.<ext>``) or ``auto`` (default: per
        performance, whichever exists, nested first; nested when neither does).
    extensions: audio extensions to look for, first existing wins (default: wav, flac, mp3,
        ogg, m4a, opus, webm).

Every scalar field of a record becomes a text column (a record without it gets ""); nested
fields such as ``mb_performances`` are left out. A record whose own ``work_id`` or ``perf_id``
disagrees with its keys, or a performance under two works, is an error. No split is defined.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from coverhunter.data.sources._common import (
    SourceError,
    audio_files_option,
    choice_option,
    listing_option,
    warn_repeated_ids,
)

SOURCE = "datacos"
LAYOUTS = ("auto", "nested", "flat")
_SCALARS = (str, int, float, bool)


def list_performances(options: Mapping[str, Any]) -> pd.DataFrame:
    """perf_id, work_id, path, then the records' scalar metadata: one row per performance."""
    json_path = listing_option(options, SOURCE, "metadata file")
    audio = audio_files_option(options, SOURCE, json_path.parent)
    layout = choice_option(options, "layout", SOURCE, LAYOUTS, "auto")

    rows = []
    for work_id, perf_id, record in _records(json_path):
        nested, flat = Path(work_id, perf_id), Path(perf_id)
        stems = {"auto": [nested, flat], "nested": [nested], "flat": [flat]}[layout]
        rows.append(
            {
                "perf_id": perf_id,
                "work_id": work_id,
                "path": str(audio.find(*stems)),
                **_metadata(record),
            }
        )
    if not rows:
        raise SourceError(f"{SOURCE}: {json_path} lists no performances")
    table = pd.DataFrame(rows)
    warn_repeated_ids(table, SOURCE, json_path)
    # Columns some records lack: "" rather than NaN, so every metadata column stays text.
    return table.fillna("")


def _records(json_path: Path) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(work_id, perf_id, record) for every performance, in file order."""
    try:
        with json_path.open(encoding="utf-8") as handle:
            works = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SourceError(f"{SOURCE}: {json_path} is not valid JSON: {err}") from err
    if not isinstance(works, dict):
        raise SourceError(f"{SOURCE}: {json_path} must map work ids to performances")
    records = []
    for work_id, performances in works.items():
        if not isinstance(performances, dict):
            raise SourceError(
                f"{SOURCE}: {json_path} work {work_id!r} must map perf ids to records"
            )
        for perf_id, record in performances.items():
            if not isinstance(record, dict):
                raise SourceError(f"{SOURCE}: {json_path} performance {perf_id!r} is not a record")
            for key, expected in (("work_id", work_id), ("perf_id", perf_id)):
                if str(record.get(key, expected)) != expected:
                    raise SourceError(
                        f"{SOURCE}: {json_path} performance {perf_id!r} under work {work_id!r} "
                        f"says {key}={record[key]!r}"
                    )
            records.append((work_id, perf_id, record))
    return records


def _metadata(record: Mapping[str, Any]) -> dict[str, str]:
    return {
        key: str(value)
        for key, value in record.items()
        if key not in {"work_id", "perf_id"} and isinstance(value, _SCALARS)
    }
