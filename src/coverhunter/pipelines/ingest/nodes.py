"""Ingest: generate the collection when the source is a generator, list its performances, check
every recording, write the manifest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from coverhunter.corpora.registry import render_collection
from coverhunter.data.manifest import finalise_manifest, portable_path
from coverhunter.data.sources.generated import (
    GENERATED_SOURCES,
    empty_ground_truth,
    generated_root,
)
from coverhunter.data.sources.registry import list_source
from coverhunter.data.validation import ValidationConfig, validate_recordings


def generate_collection(ingest: dict, seed: int) -> pd.DataFrame:
    """A generated source (`synthetic`, `rendered_corpus`): render it into `ingest.<source>.root`
    (keeping what an earlier run of the same request left there); its ground truth, one row per
    performance. Any other source is read as it is: no rows."""
    source = ingest["source"]
    if source not in GENERATED_SOURCES:
        return empty_ground_truth()
    return render_collection(source, ingest[source], generated_root(ingest), seed)


def list_performances(ingest: dict, ground_truth: pd.DataFrame) -> pd.DataFrame:
    """The source's listing: perf_id, work_id, path[, split, true_offset_s, ...]."""
    return list_source(ingest, ground_truth)


def build_manifest(
    listing: pd.DataFrame, ingest: dict, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decode and check each recording; usable ones make the manifest, the rest the rejects.

    Paths inside the project are written relative to it (Kedro runs in the project root, which
    every relative path of the parameters is read from too), so the project can be moved.
    """
    config = ValidationConfig(
        sample_rate=int(ingest["sample_rate"]),
        min_duration_s=float(ingest["min_duration_s"]),
        max_duration_s=float(ingest["max_duration_s"]),
        silence_peak_db=float(ingest["silence_peak_db"]),
        n_jobs=int(ingest["n_jobs"]),
    )
    usable, rejects = validate_recordings(listing, config)
    root = Path.cwd()
    rejects["path"] = [portable_path(str(p), root) for p in rejects.path]
    return finalise_manifest(usable, seed, ingest["split"], root=root), rejects
