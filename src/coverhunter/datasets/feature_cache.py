"""The fingerprints of features already on disk, read before a feature run to skip unchanged audio.

A node cannot read and write the same dataset, so the fingerprints table written by `feature_cqt`
(`cqt_fingerprints`) is read back through this second, read-only entry. It answers an empty table on
a first run, and drops rows whose feature file has since disappeared, so a deleted feature is
recomputed rather than trusted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

FINGERPRINT_COLUMNS = ["perf_id", "fingerprint", "n_frames"]


class FeatureCacheState(AbstractDataset[None, pd.DataFrame]):
    def __init__(
        self,
        fingerprints_path: str,
        features_path: str,
        filename_suffix: str = ".npy",
        metadata: dict[str, Any] | None = None,
    ):
        self._fingerprints_path = Path(fingerprints_path)
        self._features_path = Path(features_path)
        self._suffix = filename_suffix
        self.metadata = metadata

    def _load(self) -> pd.DataFrame:
        if not self._fingerprints_path.exists():
            return pd.DataFrame({c: pd.Series(dtype=object) for c in FINGERPRINT_COLUMNS})
        table = pd.read_parquet(self._fingerprints_path)
        on_disk = [
            (self._features_path / f"{perf_id}{self._suffix}").exists() for perf_id in table.perf_id
        ]
        return table[on_disk].reset_index(drop=True)

    def _save(self, data: None) -> None:
        raise DatasetError(
            "FeatureCacheState is read-only; the features node writes cqt_fingerprints"
        )

    def _describe(self) -> dict[str, Any]:
        return {
            "fingerprints_path": str(self._fingerprints_path),
            "features_path": str(self._features_path),
        }
