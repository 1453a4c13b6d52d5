"""The table a node wrote on its last run, read back before the next run to reuse what is valid.

A node cannot read and write the same dataset, so a table it writes (e.g. `gallery_chunks`) is read
back through this second, read-only entry. It answers an empty table on a first run; the node
decides which rows are still valid (by the fingerprints they carry).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError


class PreviousTableDataset(AbstractDataset[None, pd.DataFrame]):
    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None):
        self._filepath = Path(filepath)
        self.metadata = metadata

    def _load(self) -> pd.DataFrame:
        if not self._filepath.exists():
            return pd.DataFrame()
        return pd.read_parquet(self._filepath)

    def _save(self, data: None) -> None:
        raise DatasetError(f"{self._filepath} is read back here only; its own entry writes it")

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
