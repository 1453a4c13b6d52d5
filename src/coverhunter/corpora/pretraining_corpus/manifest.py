"""The pretraining table as a manifest: train and validation works, no test works (the test works
are the default collection's)."""

from __future__ import annotations

import pandas as pd

from coverhunter.corpora.pretraining_corpus.config import PretrainingCorpusConfig
from coverhunter.data.manifest import finalise_manifest, work_hash_fraction


def pretraining_splits(
    work_ids: pd.Series, seed: int, val_fraction: float, min_val_works: int
) -> pd.Series:
    """The split of each row, "val" or "train", by work: the works whose hash fraction is below
    `val_fraction`, or the `min_val_works` lowest when those are fewer (one work stays train)."""
    works = sorted(set(work_ids), key=lambda w: (work_hash_fraction(w, seed), w))
    n_val = sum(work_hash_fraction(w, seed) < val_fraction for w in works)
    n_val = min(max(n_val, min_val_works), max(len(works) - 1, 0))
    val = set(works[:n_val])
    return work_ids.map(lambda w: "val" if w in val else "train")


def pretraining_manifest(
    table: pd.DataFrame, config: PretrainingCorpusConfig, seed: int
) -> pd.DataFrame:
    """The table as a manifest (`data/manifest.py`): train and val works, no test works."""
    usable = table.assign(
        split=pretraining_splits(table.work_id, seed, config.val_fraction, config.min_val_works),
        channels=1,
        truncated=False,
    )
    return finalise_manifest(usable, seed, {"val_fraction": 0.0, "test_fraction": 0.0})
