"""Read the public SHS100K release (github NovaFrost/SHS100K) and its downloaded audio.

The release is metadata only: a ``list`` file, tab separated without a header, one recording a
line as ``set_id, ver_id, title, performer, url, status`` (status: whether youtube-dl could
fetch it), and the split files ``SHS100K-TRAIN``, ``SHS100K-VAL``, ``SHS100K-TEST``, each a
tab-separated ``set_id, ver_id`` a line. The set is the work and (set, version) one
performance, so ``perf_id`` is ``"{set_id}_{ver_id}"``; ids are kept as text.

Options:
    path (required): the folder holding ``list`` and the split files.
    list_file: name of the list file inside ``path`` (default ``list``).
    split_files: mapping of split -> file name inside ``path`` (default ``{train:
        SHS100K-TRAIN, val: SHS100K-VAL, test: SHS100K-TEST}``). When given, the split files
        decide which performances are listed, and list rows in no split are left out (logged);
        an empty mapping lists every row of ``list`` with no split column.
    audio_root: folder holding the audio (default: ``path``).
    filename_pattern: where a recording's audio lies inside ``audio_root``, without the
        extension, from the fields ``work_id``, ``version_id`` and ``perf_id`` (default
        ``{work_id}_{version_id}``, the ``<set_id>_<ver_id>`` naming of the SHS100K feature
        sets (e.g. CQTNet's); ``{work_id}/{version_id}`` for one folder per work). The
        CoverHunter authors published no SHS100K preparation to follow.
    extensions: audio extensions to look for, first existing wins (default: wav, flac, mp3,
        ogg, m4a, opus, webm); a recording with no file gets the first.

A list line with fewer than 2 or more than 6 fields, a split line without exactly 2, or a
performance in two splits is an error naming the file and line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from coverhunter.data.sources._common import (
    SourceError,
    audio_files_option,
    listing_option,
    require_file,
)

logger = logging.getLogger(__name__)

SOURCE = "shs100k"
LIST_COLUMNS = ("work_id", "version_id", "title", "performer", "url", "status")
SPLIT_FILES = {"train": "SHS100K-TRAIN", "val": "SHS100K-VAL", "test": "SHS100K-TEST"}
DEFAULT_PATTERN = "{work_id}_{version_id}"
_HEADER_NAMES = frozenset({"set_id", "id", "work_id"})

Key = tuple[str, str]


def list_performances(options: Mapping[str, Any]) -> pd.DataFrame:
    """perf_id, work_id, path, split (unless no split files), version_id, title, performer,
    url, status: one row per performance."""
    folder = listing_option(options, SOURCE, "folder", folder=True)
    list_path = require_file(folder / str(options.get("list_file") or "list"), SOURCE, "list file")
    audio = audio_files_option(options, SOURCE, folder)
    pattern = str(options.get("filename_pattern") or DEFAULT_PATTERN)
    split_files = options.get("split_files")
    split_files = SPLIT_FILES if split_files is None else dict(split_files)

    metadata = read_list(list_path)
    splits = {
        split: require_file(folder / str(name), SOURCE, f"{split} split file")
        for split, name in split_files.items()
    }
    keys = _split_of(splits) if splits else dict.fromkeys(metadata)
    _log_coverage(metadata, keys, list_path)
    rows = []
    for (work_id, version_id), split in keys.items():
        perf_id = f"{work_id}_{version_id}"
        fields = {"work_id": work_id, "version_id": version_id, "perf_id": perf_id}
        rows.append(
            {
                "perf_id": perf_id,
                "work_id": work_id,
                "path": str(audio.find(_format(pattern, fields))),
                **({"split": split} if splits else {}),
                "version_id": version_id,
                **metadata.get((work_id, version_id), dict.fromkeys(LIST_COLUMNS[2:], "")),
            }
        )
    if not rows:
        raise SourceError(f"{SOURCE}: {list_path} and the split files list no performances")
    return pd.DataFrame(rows)


def read_list(list_path: Path) -> dict[Key, dict[str, str]]:
    """(set_id, ver_id) -> {title, performer, url, status}, in file order."""
    metadata: dict[Key, dict[str, str]] = {}
    for number, fields in _lines(list_path):
        if number == 1 and fields[0].lower() in _HEADER_NAMES:
            continue
        if not 2 <= len(fields) <= len(LIST_COLUMNS):
            raise SourceError(
                f"{SOURCE}: {list_path} line {number}: expected up to {len(LIST_COLUMNS)} "
                f"tab-separated fields (set_id, ver_id, title, performer, url, status), "
                f"found {len(fields)}"
            )
        row = dict(
            zip(LIST_COLUMNS, fields + [""] * (len(LIST_COLUMNS) - len(fields)), strict=True)
        )
        key = (row.pop("work_id"), row.pop("version_id"))
        if key in metadata:
            logger.warning(
                "%s: %s line %d repeats %s; kept the first", SOURCE, list_path, number, key
            )
            continue
        metadata[key] = row
    return metadata


def _split_of(splits: Mapping[str, Path]) -> dict[Key, str]:
    """(set_id, ver_id) -> split, in split-file order; a pair in two splits is an error."""
    split_of: dict[Key, str] = {}
    for split, path in splits.items():
        for number, fields in _lines(path):
            if len(fields) != 2:
                raise SourceError(
                    f"{SOURCE}: {path} line {number}: expected 2 tab-separated fields "
                    f"(set_id, ver_id), found {len(fields)}"
                )
            key = (fields[0], fields[1])
            if split_of.get(key, split) != split:
                raise SourceError(
                    f"{SOURCE}: {path} line {number}: {key} is already in split {split_of[key]}"
                )
            split_of[key] = split
    return split_of


def _lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, stripped tab-separated fields) of each non-blank line."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, [field.strip() for field in line.rstrip("\r\n").split("\t")]


def _log_coverage(metadata: Mapping[Key, Any], keys: Mapping[Key, Any], list_path: Path) -> None:
    unlisted = sum(key not in metadata for key in keys)
    if unlisted:
        logger.warning(
            "%s: %d performance(s) of the split files are not in %s; listed without metadata",
            SOURCE,
            unlisted,
            list_path,
        )
    unsplit = sum(key not in keys for key in metadata)
    if unsplit:
        logger.info(
            "%s: left out %d row(s) of %s that no split file names", SOURCE, unsplit, list_path
        )


def _format(pattern: str, fields: Mapping[str, str]) -> str:
    try:
        return pattern.format(**fields)
    except (KeyError, IndexError, ValueError) as err:
        raise SourceError(
            f"{SOURCE}: option filename_pattern={pattern!r} is not valid ({err!r}); "
            f"it may use {{work_id}}, {{version_id}} and {{perf_id}}"
        ) from err
