"""A run's recordings of one split with their features, read through the Kedro catalog.

The benchmarks that score a collection a run has built (`alignment_features.py`,
`qmax_on_features.py`, `scaling.py`) read it alike: the `manifest` and `cqt_features` entries of
a configuration environment, and the rows of one split that have features. Not a script: the
leading underscore keeps it out of the benchmarks `tests/test_benchmarks_import.py` runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from coverhunter.data.feature_store import FeatureStore
from coverhunter.data.features import with_features
from coverhunter.data.splits import split_rows

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")  # nothing leaves the machine
PROJECT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class SplitFeatures:
    rows: pd.DataFrame  # the split's manifest rows whose features are in the store
    manifest: pd.DataFrame  # every row, for what the split's rows lack (audio paths)
    store: FeatureStore
    params: dict[str, Any]  # the environment's parameters


def load_split_features(env: str | None, split: str) -> SplitFeatures:
    """The recordings of `split` (a manifest split: train, val, test) in the catalog of `env`."""
    bootstrap_project(PROJECT)
    with KedroSession.create(project_path=PROJECT, env=env) as session:
        context = session.load_context()
        manifest = context.catalog.load("manifest")
        store = context.catalog.load("cqt_features")
        params = context.params
    return SplitFeatures(with_features(split_rows(manifest, split), store), manifest, store, params)
