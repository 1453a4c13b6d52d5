"""Kedro dataset for a `ChunkIndex`: the faiss index in faiss's own format plus its chunk map.

Two files: `filepath` holds the index (`faiss.write_index`), `filepath` + `.chunks.npz` the
chunk -> performance map (`chunk_perf_ids`, `chunk_starts_s`). With `versioned: true` both live
in the version folder. Local filesystem only: faiss reads and writes plain paths.

Example catalog entry:

    "{collection}.gallery_index":
      type: coverhunter.datasets.faiss_index_dataset.FaissIndexDataset
      filepath: data/06_models/{collection}/gallery.faiss
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io.core import AbstractVersionedDataset, DatasetError, Version

from coverhunter.retrieval.index import ChunkIndex, load_chunk_index, save_chunk_index

MAP_SUFFIX = ".chunks.npz"


def _map_path(index_path: PurePosixPath) -> Path:
    return Path(str(index_path) + MAP_SUFFIX)


class FaissIndexDataset(AbstractVersionedDataset[ChunkIndex, ChunkIndex]):
    """Saves and loads a `coverhunter.retrieval.index.ChunkIndex`."""

    def __init__(
        self,
        filepath: str,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(filepath=PurePosixPath(filepath), version=version)
        self.metadata = metadata

    def load(self) -> ChunkIndex:
        path = self._get_load_path()
        if not Path(path).exists() or not _map_path(path).exists():
            raise DatasetError(f"no faiss index with its chunk map at {path}")
        return load_chunk_index(path, _map_path(path))

    def save(self, data: ChunkIndex) -> None:
        if not isinstance(data, ChunkIndex):
            raise DatasetError(f"FaissIndexDataset saves a ChunkIndex, got {type(data).__name__}")
        path = self._get_save_path()
        save_chunk_index(data, path, _map_path(path))

    def _exists(self) -> bool:
        path = self._get_load_path()
        return Path(path).exists() and _map_path(path).exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "version": self._version}
