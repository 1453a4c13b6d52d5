"""Read a collection that one of our generators wrote (`coverhunter.corpora`, run by ingest's
`generate_collection_node`): the `folder` layout plus the generator's ground truth.

The generator renders ``<root>/<work_id>/<perf_id>.flac`` and returns its ground truth, one row
per performance: perf_id, work_id and how the version was made (true_offset_s, duration_s,
key_shift, tempo, the `var_*` kinds of variation, ...). The folder is listed here as any folder
collection is (`folder.py`) and the ground truth joined in by perf_id, so that every column of it
reaches the manifest. The ground truth says which performances there are: a row whose file is
missing keeps its layout path (ingest then sets it aside as missing), and an audio file it does
not describe is left out with a warning. Rows come sorted by perf_id.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from coverhunter.data.sources import folder
from coverhunter.data.sources._common import SourceError

logger = logging.getLogger(__name__)

# The sources a generator writes (`ingest.source`), each into `ingest.<source>.root`.
GENERATED_SOURCES = ("synthetic", "rendered_corpus")
EXTENSION = "flac"  # what every generator writes
KEYS = ["perf_id", "work_id"]


def empty_ground_truth() -> pd.DataFrame:
    """The ground truth of a collection that is read, not generated: no rows."""
    return pd.DataFrame({key: pd.Series(dtype=str) for key in KEYS})


def generated_root(ingest: Mapping[str, Any]) -> Path:
    """The folder the generated collection `ingest.source` is written to and read from: its
    `root` setting (``~`` expanded, relative to the project), resolved."""
    source = ingest["source"]
    root = (ingest.get(source) or {}).get("root")
    if root is None or str(root) == "":
        raise SourceError(f"ingest.{source} needs `root`, the folder to render into")
    return Path(os.path.expanduser(str(root))).resolve()


def list_performances(root: Path, ground_truth: pd.DataFrame, source: str) -> pd.DataFrame:
    """One row per ground-truth row: perf_id, work_id, path (under `root`), then the ground
    truth's other columns in its order. SourceError when the ground truth has no rows."""
    if ground_truth.empty:
        raise SourceError(f"{source}: the generator described no performances under {root}")
    found = folder.list_performances({"path": str(root), "extensions": [EXTENSION]})
    listing = ground_truth.merge(found, on=KEYS, how="left", validate="one_to_one")
    missing = listing.path.isna()
    listing.loc[missing, "path"] = [
        str(folder.recording_path(root, row.work_id, row.perf_id, EXTENSION))
        for row in listing[missing].itertuples()
    ]
    extra = sorted(set(found.perf_id) - set(ground_truth.perf_id))
    if extra:
        logger.warning(
            "%s: left out %d audio file(s) under %s that the generator did not write, e.g. %s",
            source, len(extra), root, extra[:3],
        )  # fmt: skip
    columns = [*KEYS, "path", *(c for c in ground_truth.columns if c not in KEYS)]
    return listing[columns].sort_values("perf_id", ignore_index=True)
