"""What a build keeps beside the feature store so that a later run resumes it, and what of it a
later run may reuse: the table rows of the works written (`ROWS_FILE`) and the state
(`STATE_FILE`: the request, the default collection's pieces, the pieces that failed to parse).
Both are written just before each commit of the store."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from coverhunter.corpora.pretraining_corpus.fingerprints import version_fingerprint
from coverhunter.corpora.pretraining_corpus.work import TABLE_COLUMNS
from coverhunter.data.atomic import write_bytes_atomically

STATE_FILE = "pretraining_corpus.json"
ROWS_FILE = "pretraining_rows.parquet"
_ROW_EXTRA = ("rank", "fingerprint")  # kept beside the table's columns in ROWS_FILE


def read_state(folder: Path) -> dict:
    try:
        return json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def write_state(folder: Path, state: dict) -> None:
    text = json.dumps(state, indent=1, sort_keys=True)
    write_bytes_atomically(folder / STATE_FILE, text.encode())


def read_rows(folder: Path) -> pd.DataFrame:
    path = folder / ROWS_FILE
    if not path.exists():
        return pd.DataFrame(columns=[*TABLE_COLUMNS, *_ROW_EXTRA])
    return pd.read_parquet(path)


def write_rows(records: list[dict], folder: Path) -> None:
    """The rows of the work `records` (as `work.build_work` returns them), with rank and
    fingerprint, as `folder`'s ROWS_FILE."""
    rows = [
        {**row, "rank": record["rank"], "fingerprint": fingerprint}
        for record in records
        for row, fingerprint in zip(record["rows"], record["fingerprints"], strict=True)
    ]
    table = pd.DataFrame(rows, columns=[*TABLE_COLUMNS, *_ROW_EXTRA])
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    write_bytes_atomically(folder / ROWS_FILE, buffer.getvalue())


def previous_works(
    rows: pd.DataFrame, index: pd.DataFrame, request_key: str, keep_audio: bool
) -> dict[str, dict]:
    """work_id -> record of every work whose versions are all committed with the right
    fingerprint (and, with `keep_audio`, whose files are there)."""
    committed = dict(zip(index.perf_id, index.fingerprint, strict=True))
    works = {}
    for work_id, group in rows.groupby("work_id", sort=False):
        rank = int(group["rank"].iat[0])
        group = group.sort_values("perf_id")
        expected = [version_fingerprint(request_key, work_id, rank, v) for v in range(len(group))]
        perf_ids = [f"{work_id}_v{v:02d}" for v in range(len(group))]
        intact = (
            group.perf_id.tolist() == perf_ids
            and group.fingerprint.tolist() == expected
            and all(committed.get(p) == f for p, f in zip(perf_ids, expected, strict=True))
            and (not keep_audio or all(p and Path(p).is_file() for p in group.path))
        )
        if intact:
            records = group.drop(columns=list(_ROW_EXTRA)).to_dict("records")
            works[work_id] = {
                "work_id": work_id, "rank": rank, "rows": records, "fingerprints": expected,
            }  # fmt: skip
    return works
