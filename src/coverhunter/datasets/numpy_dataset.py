"""A numpy array saved as one `.npy` file (no pickle), for PartitionedDataset partitions."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import fsspec
import numpy as np
from kedro.io import AbstractDataset
from kedro.io.core import get_filepath_str, get_protocol_and_path


class NumpyArrayDataset(AbstractDataset[np.ndarray, np.ndarray]):
    """Loads and saves one array with `np.load(allow_pickle=False)` / `np.save`."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None):
        protocol, path = get_protocol_and_path(filepath)
        self._protocol = protocol
        self._filepath = PurePosixPath(path)
        self._fs = fsspec.filesystem(protocol)
        self.metadata = metadata

    def _load(self) -> np.ndarray:
        path = get_filepath_str(self._filepath, self._protocol)
        with self._fs.open(path, "rb") as handle:
            return np.load(handle, allow_pickle=False)

    def _save(self, data: np.ndarray) -> None:
        path = get_filepath_str(self._filepath, self._protocol)
        self._fs.makedirs(str(self._filepath.parent), exist_ok=True)
        with self._fs.open(path, "wb") as handle:
            np.save(handle, np.asarray(data), allow_pickle=False)

    def _exists(self) -> bool:
        return self._fs.exists(get_filepath_str(self._filepath, self._protocol))

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "protocol": self._protocol}
