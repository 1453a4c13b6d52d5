"""Which manifest rows each stage trains, validates and tests on."""

from __future__ import annotations

import logging
from collections.abc import Container, Mapping
from typing import Any

import numpy as np
import pandas as pd

from coverhunter.data.batches import SamplerConfig

logger = logging.getLogger(__name__)


def training_items(
    manifest: pd.DataFrame, n_works: int | str | None = None, seed: int = 0
) -> pd.DataFrame:
    """Trainable rows (train split, works with at least two versions): perf_id, work_id.

    `n_works` (a number; `None` or "all": every work) keeps only that many works, the first of a
    seeded shuffle, so that 100 works are among the 1,000 of the same seed: the scaling table
    trains every stage of one collection on growing subsets of its works.
    """
    items = manifest.loc[manifest.trainable.astype(bool), ["perf_id", "work_id"]]
    limit = parse_work_count(n_works)
    if limit is not None:
        works = np.random.default_rng(seed).permutation(np.sort(items.work_id.unique()))
        if limit > len(works):
            raise ValueError(
                f"training_works={limit} but the manifest has {len(works)} trainable works"
            )
        items = items[items.work_id.isin(set(works[:limit]))]
    if items.work_id.nunique() < 2:
        raise ValueError(
            f"training needs at least two trainable works, the manifest has {items.work_id.nunique()}"
        )
    return items.reset_index(drop=True)


def parse_work_count(n_works: int | str | None) -> int | None:
    """`training_works` as a number, or None for every work ("all", null)."""
    if n_works is None or str(n_works).lower() == "all":
        return None
    try:
        count = int(str(n_works))
    except ValueError:
        count = 0
    if count < 2:
        raise ValueError(f"training_works must be 'all' or a whole number >= 2, got {n_works!r}")
    return count


def split_rows(
    manifest: pd.DataFrame, split: str, available: Container[str] | None = None
) -> pd.DataFrame:
    """perf_id, work_id of one split, limited to performances with features when given."""
    rows = manifest.loc[manifest.split == split, ["perf_id", "work_id"]]
    if available is not None:
        rows = rows[[perf_id in available for perf_id in rows.perf_id]]
    return rows.reset_index(drop=True)


def sampler_config(
    sampler: Mapping[str, Any], items: pd.DataFrame, frame_rate: float
) -> SamplerConfig:
    """The stage's sampler settings, with P capped at the number of trainable works."""
    settings = {**dict(sampler), "frame_rate": frame_rate}
    n_works = items.work_id.nunique()
    if settings["p_works"] > n_works:
        logger.warning(
            "p_works=%d but only %d trainable works: using %d",
            settings["p_works"],
            n_works,
            n_works,
        )
        settings["p_works"] = n_works
    return SamplerConfig(**settings)
