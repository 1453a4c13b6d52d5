"""Ingest: list a collection's performances, check every recording, write the manifest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from coverhunter.data.manifest import finalise_manifest, portable_path
from coverhunter.data.sources.registry import list_source
from coverhunter.data.validation import ValidationConfig, validate_recordings


def list_performances(ingest: dict, seed: int) -> pd.DataFrame:
    """The source's listing: perf_id, work_id, path[, split, true_offset_s, ...]."""
    source = ingest["source"]
    if source == "synthetic":
        from coverhunter.corpora.synthetic.collection import (
            SyntheticConfig,
            generate_synthetic_collection,
        )

        settings = dict(ingest["synthetic"])
        root = Path(settings.pop("root"))
        return generate_synthetic_collection(root, SyntheticConfig(**settings), seed)
    if source == "rendered_corpus":
        from coverhunter.corpora.rendered_corpus.collection import list_rendered_corpus

        return list_rendered_corpus(ingest["rendered_corpus"], seed)
    return list_source(ingest)


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
