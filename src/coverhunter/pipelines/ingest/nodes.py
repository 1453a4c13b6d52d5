"""Ingest: list a collection's performances, check every recording, write the manifest."""

from __future__ import annotations

import pandas as pd

from coverhunter.data.manifest import finalise_manifest
from coverhunter.data.sources.registry import list_source
from coverhunter.data.validation import ValidationConfig, validate_recordings


def list_performances(ingest: dict, seed: int) -> pd.DataFrame:
    """The source's listing: perf_id, work_id, path[, split, true_offset_s, ...]."""
    return list_source(ingest, seed)


def build_manifest(
    listing: pd.DataFrame, ingest: dict, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decode and check each recording; usable ones make the manifest, the rest the rejects."""
    config = ValidationConfig(
        sample_rate=int(ingest["sample_rate"]),
        min_duration_s=float(ingest["min_duration_s"]),
        max_duration_s=float(ingest["max_duration_s"]),
        silence_peak_db=float(ingest["silence_peak_db"]),
        n_jobs=int(ingest["n_jobs"]),
    )
    usable, rejects = validate_recordings(listing, config)
    return finalise_manifest(usable, seed, ingest["split"]), rejects
