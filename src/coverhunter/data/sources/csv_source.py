"""Read a collection listed in a CSV file with a header row.

Options:
    path (required): the CSV file (UTF-8, comma separated, first row names the columns).
    audio_root: folder that relative paths in the ``path`` column resolve against
        (default: the CSV file's folder). Absolute paths are kept as they are.

Columns ``perf_id``, ``work_id`` and ``path`` are required (a row with an empty one is passed on,
and ingest sets it aside with the reason); ``split`` is
optional and, when present, holds ``train``, ``val`` or ``test`` on every row. Every other
column is kept as metadata. All values are read as text, so an id such as "007" stays "007".
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from coverhunter.data.sources._common import (
    SPLITS,
    SourceError,
    audio_root_option,
    listing_option,
    warn_repeated_ids,
)

logger = logging.getLogger(__name__)

SOURCE = "csv"
REQUIRED_COLUMNS = ("perf_id", "work_id", "path")
# The header is line 1 of the file, so table row i sits on line i + 2.
_FIRST_DATA_LINE = 2


def list_performances(options: Mapping[str, Any]) -> pd.DataFrame:
    """The CSV's rows: perf_id, work_id, absolute path, optional split, then extra columns."""
    csv_path = listing_option(options, SOURCE, "CSV file")
    root = audio_root_option(options, SOURCE, csv_path.parent)
    table = _read(csv_path)
    missing = [column for column in REQUIRED_COLUMNS if column not in table.columns]
    if missing:
        raise SourceError(
            f"{SOURCE}: {csv_path} lacks column(s) {missing}; its header is {list(table.columns)}"
        )
    for column in REQUIRED_COLUMNS:
        table[column] = table[column].str.strip()
    _check_filled(table, csv_path)
    if "split" in table.columns:
        _check_splits(table, csv_path)
    table["path"] = [str(_resolve(root, value)) if value else "" for value in table["path"]]
    warn_repeated_ids(table, SOURCE, csv_path)
    first = [*REQUIRED_COLUMNS, *(["split"] if "split" in table.columns else [])]
    return table[first + [c for c in table.columns if c not in first]].reset_index(drop=True)


def _read(csv_path: Path) -> pd.DataFrame:
    try:
        # utf-8-sig: spreadsheet exports often start with a byte-order mark.
        table = pd.read_csv(csv_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError as err:
        raise SourceError(f"{SOURCE}: {csv_path} is empty (no header row)") from err
    except UnicodeDecodeError as err:
        raise SourceError(
            f"{SOURCE}: {csv_path} is not UTF-8 text (byte 0x{err.object[err.start]:02x} at "
            f"offset {err.start}); save it as UTF-8"
        ) from err
    except pd.errors.ParserError as err:
        raise SourceError(f"{SOURCE}: cannot parse {csv_path}: {err}") from err
    if table.empty:
        raise SourceError(f"{SOURCE}: {csv_path} lists no performances")
    # Short rows leave NaN even with keep_default_na=False.
    return table.fillna("")


def _check_filled(table: pd.DataFrame, csv_path: Path) -> None:
    empty = table[list(REQUIRED_COLUMNS)].eq("").any(axis=1)
    if empty.any():
        lines = (table.index[empty] + _FIRST_DATA_LINE).tolist()
        logger.warning(
            "%s: %s has an empty perf_id, work_id or path on line(s) %s; ingest rejects them",
            SOURCE,
            csv_path,
            lines[:10],
        )


def _check_splits(table: pd.DataFrame, csv_path: Path) -> None:
    bad = ~table["split"].isin(SPLITS)
    if bad.any():
        values = sorted(set(table.loc[bad, "split"]))
        lines = (table.index[bad] + _FIRST_DATA_LINE).tolist()
        raise SourceError(
            f"{SOURCE}: {csv_path} has split value(s) {values} on line(s) {lines[:10]}; "
            f"expected one of {sorted(SPLITS)}"
        )


def _resolve(root: Path, value: str) -> Path:
    # Joining keeps an absolute value as it is; abspath folds "..".
    return Path(os.path.abspath(root / Path(value).expanduser()))
