"""Source name -> the module that lists its performances."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import pandas as pd

from coverhunter.data.sources import generated
from coverhunter.data.sources._common import SourceError

# Each module has `list_performances(options) -> DataFrame(perf_id, work_id, path[, split], ...)`.
SOURCE_MODULES = {
    "csv": "csv_source",
    "folder": "folder",
    "shs100k": "shs100k",
    "datacos": "datacos",
    "covers80": "covers80",
    "discogs_vi": "discogs_vi",
}
SOURCES = (*generated.GENERATED_SOURCES, *SOURCE_MODULES)


def list_source(ingest: Mapping[str, Any], ground_truth: pd.DataFrame) -> pd.DataFrame:
    """The raw listing of the collection the ingest parameters name.

    A generated source (`synthetic`, `rendered_corpus`) is read from its folder with the
    `ground_truth` its generator returned joined in (`generated.py`); for the others
    `ground_truth` is empty and unused.
    """
    source = ingest["source"]
    if source in generated.GENERATED_SOURCES:
        root = generated.generated_root(ingest)
        return generated.list_performances(root, ground_truth, source)
    if source not in SOURCE_MODULES:
        raise SourceError(f"ingest.source {source!r} is not one of {list(SOURCES)}")
    options = {
        "path": ingest.get("path"),
        "audio_root": ingest.get("audio_root"),
        **dict(ingest.get("options") or {}),
    }
    if options["path"] is None:
        raise SourceError(
            f"ingest.source {source!r} needs ingest.path (its listing file or folder)"
        )
    module = importlib.import_module(f"coverhunter.data.sources.{SOURCE_MODULES[source]}")
    return module.list_performances(options)
