"""Which manifest rows each stage trains, validates and tests on."""

from __future__ import annotations

import logging
from collections.abc import Container, Mapping
from typing import Any

import pandas as pd

from coverhunter.data.batches import SamplerConfig

logger = logging.getLogger(__name__)


def training_items(manifest: pd.DataFrame) -> pd.DataFrame:
    """Trainable rows (train split, works with at least two versions): perf_id, work_id."""
    items = manifest.loc[manifest.trainable.astype(bool), ["perf_id", "work_id"]]
    if items.work_id.nunique() < 2:
        raise ValueError(
            f"training needs at least two trainable works, the manifest has {items.work_id.nunique()}"
        )
    return items.reset_index(drop=True)


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
