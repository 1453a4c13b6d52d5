"""The feature store (`coverhunter.data.feature_store`) as Kedro datasets.

A node cannot read and write the same dataset, so one folder has two entries:
- `FeatureStoreWriterDataset` (read-only): loads a writer opened on the folder, holding the index
  the last run committed, for the features node to append to; an index that cannot be read (a
  truncated or foreign file) is set aside as `index.parquet.corrupt-<time>`, with a warning
  saying so, and every recording's features are computed again;
- `FeatureStoreDataset`: saving a writer commits it (or a `FeatureStore`, already committed, is
  taken as it is); loading gives the read-only, memory-mapped `FeatureStore` every later stage
  reads (training, alignment, indexing, evaluation) without loading the collection.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from coverhunter.data.feature_store import (
    FeatureStore,
    FeatureStoreError,
    FeatureStoreWriter,
    read_index,
    set_index_aside,
)

logger = logging.getLogger(__name__)


class FeatureStoreDataset(AbstractDataset[FeatureStoreWriter | FeatureStore, FeatureStore]):
    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
        self._path = Path(path)
        self.metadata = metadata

    def _load(self) -> FeatureStore:
        return FeatureStore(self._path)

    def _save(self, data: FeatureStoreWriter | FeatureStore) -> None:
        if isinstance(data, FeatureStoreWriter):
            if data.folder.resolve() != self._path.resolve():
                raise DatasetError(f"writer of {data.folder} saved to the store at {self._path}")
            data.commit()
            data.close()
        elif not isinstance(data, FeatureStore) or data.folder.resolve() != self._path.resolve():
            raise DatasetError(f"the store at {self._path} takes its own writer or store")

    def _exists(self) -> bool:
        return (self._path / "index.parquet").exists()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


class FeatureStoreWriterDataset(AbstractDataset[None, FeatureStoreWriter]):
    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
        self._path = Path(path)
        self.metadata = metadata

    def _load(self) -> FeatureStoreWriter:
        try:
            read_index(self._path)
        except FeatureStoreError as error:
            aside = set_index_aside(self._path)
            logger.warning(
                "%s; set aside as %s: the features of every recording are computed again",
                error,
                aside.name,
            )
        return FeatureStoreWriter(self._path)

    def _save(self, data: None) -> None:
        raise DatasetError(
            "FeatureStoreWriterDataset is read-only; save to the FeatureStoreDataset"
        )

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
