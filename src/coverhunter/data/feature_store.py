"""Features on disk: memory-mapped float16 arrays, one folder per collection, read without loading.

Layout of a store folder::

    index.parquet        perf_id, fingerprint, n_frames, n_bins, shard, offset, crc32
    shard-<tag>-<n>.bin  float16 rows (frames x bins, C order), appended one array after another

A reader (`FeatureStore`) is a read-only `Mapping[perf_id, np.ndarray (T, F) float16]` whose values
are views into memory-mapped shards: nothing is read until a caller slices it, so the RAM of a
training run does not grow with the number of recordings (the OS pages in what is touched).
It pickles as its folder and index only (shards are reopened in the process that reads them), so
`DataLoader` workers can take it under any start method.

A writer (`FeatureStoreWriter`) appends arrays as they are computed, into shards of its own (a new
`tag` per writer), and `commit()` makes them visible: shard data is flushed and fsync'ed first,
then the index is replaced atomically (temporary file + rename). A killed writer leaves its
uncommitted arrays unreferenced; the last committed index is intact. Committing also deletes the
shards no row refers to any more (a previous run's replaced arrays, a killed writer's tail).
One writer at a time per folder (a lock file says so).

Every row carries the CRC-32 of its bytes; `verify` reads them back and names the rows whose
bytes no longer match (a disk or a hand that changed a shard).
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from coverhunter.data.atomic import replaced_atomically

logger = logging.getLogger(__name__)

__all__ = [
    "INDEX_COLUMNS",
    "FeatureStore",
    "FeatureStoreError",
    "FeatureStoreWriter",
]

INDEX_FILE = "index.parquet"
LOCK_FILE = ".writer.lock"
DTYPE = np.dtype("<f2")
INDEX_COLUMNS = ["perf_id", "fingerprint", "n_frames", "n_bins", "shard", "offset", "crc32"]
_SHARD_BYTES = 1 << 30  # a new shard after 1 GiB: few open files, cheap to delete


class FeatureStoreError(RuntimeError):
    """The store's folder or index cannot be used as asked (named in the message)."""


def _empty_index() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "perf_id": pd.Series(dtype=object),
            "fingerprint": pd.Series(dtype=object),
            "n_frames": pd.Series(dtype=np.int64),
            "n_bins": pd.Series(dtype=np.int64),
            "shard": pd.Series(dtype=object),
            "offset": pd.Series(dtype=np.int64),
            "crc32": pd.Series(dtype=np.int64),
        }
    )


def read_index(folder: Path) -> pd.DataFrame:
    """The committed index of `folder` (empty when nothing was ever committed)."""
    path = folder / INDEX_FILE
    if not path.exists():
        return _empty_index()
    try:
        table = pd.read_parquet(path)
    except Exception as error:  # a truncated or foreign file: say which and why
        raise FeatureStoreError(f"{path}: not a readable feature index ({error})") from error
    missing = set(INDEX_COLUMNS) - set(table.columns)
    if missing:
        raise FeatureStoreError(f"{path}: feature index lacks columns {sorted(missing)}")
    if table.perf_id.duplicated().any():
        raise FeatureStoreError(f"{path}: a perf_id appears twice in the feature index")
    return table[INDEX_COLUMNS].reset_index(drop=True)


def set_index_aside(folder: Path) -> Path:
    """Rename the index of `folder` to `index.parquet.corrupt-<UTC time>` (kept to look at, never
    read again); the folder then holds no committed features. -> the new name."""
    path = Path(folder) / INDEX_FILE
    aside = path.with_name(f"{INDEX_FILE}.corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    os.replace(path, aside)
    return aside


def _crc(array: np.ndarray) -> int:
    return zlib.crc32(memoryview(np.ascontiguousarray(array, dtype=DTYPE)).cast("B"))


class FeatureStore(Mapping):
    """Read-only features of a store folder: `store[perf_id]` is a `(T, F)` float16 memmap view
    (with `as_float32`, a float32 copy of the whole track: see `float32`)."""

    def __init__(
        self, folder: str | Path, index: pd.DataFrame | None = None, as_float32: bool = False
    ):
        self.folder = Path(folder)
        self.as_float32 = as_float32
        self._index = read_index(self.folder) if index is None else index
        self._rows = {p: i for i, p in enumerate(self._index.perf_id)}
        # plain arrays: a training step looks up hundreds of rows, pandas' iloc is slow for that
        self._where = (
            self._index.shard.to_numpy(dtype=object),
            self._index.offset.to_numpy(dtype=np.int64),
            self._index.n_frames.to_numpy(dtype=np.int64),
            self._index.n_bins.to_numpy(dtype=np.int64),
        )
        self._maps: dict[str, np.memmap] = {}

    # Mapping
    def __getitem__(self, perf_id: str) -> np.ndarray:
        stored = self._stored(perf_id)
        return np.asarray(stored, dtype=np.float32) if self.as_float32 else stored

    def _stored(self, perf_id: str) -> np.ndarray:
        """The `(T, F)` float16 memmap view of one track."""
        row = self._rows[perf_id]
        shard_name, offset, n_frames, n_bins = (column[row] for column in self._where)
        shard = self._shard(shard_name)
        start, n = int(offset * n_bins), int(n_frames * n_bins)
        if start + n > shard.shape[0]:
            raise FeatureStoreError(
                f"{self.folder / shard_name}: holds {shard.shape[0]} values, the index wants "
                f"{start + n} for {perf_id} (a shard was truncated)"
            )
        return shard[start : start + n].reshape(int(n_frames), int(n_bins))

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, perf_id: object) -> bool:
        return perf_id in self._rows

    # pickling: the folder and the index travel, open memmaps do not
    def __getstate__(self) -> dict:
        return {"folder": self.folder, "index": self._index, "as_float32": self.as_float32}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["folder"], state["index"], state["as_float32"])

    @property
    def table(self) -> pd.DataFrame:
        """The index (a copy): perf_id, fingerprint, n_frames, n_bins, shard, offset, crc32."""
        return self._index.copy()

    def n_frames(self, perf_id: str) -> int:
        return int(self._where[2][self._rows[perf_id]])

    def float32(self) -> FeatureStore:
        """The same store whose values are float32 arrays (each a copy of one whole track), for
        code that embeds whole tracks."""
        return FeatureStore(self.folder, self._index, as_float32=True)

    def verify(self, perf_ids: Iterable[str] | None = None) -> list[str]:
        """The perf_ids (of `perf_ids`, default all) whose bytes no longer match their CRC."""
        bad = []
        crcs = self._index.crc32.to_numpy()
        for perf_id in self._rows if perf_ids is None else perf_ids:
            try:
                ok = _crc(self._stored(perf_id)) == int(crcs[self._rows[perf_id]])
            except (FeatureStoreError, OSError, ValueError):
                ok = False
            if not ok:
                bad.append(perf_id)
        return bad

    def _shard(self, name: str) -> np.memmap:
        if name not in self._maps:
            path = self.folder / name
            if not path.exists():
                raise FeatureStoreError(f"{path}: shard named by the feature index is missing")
            if path.stat().st_size == 0:
                self._maps[name] = np.zeros(0, dtype=DTYPE)
            else:
                self._maps[name] = np.memmap(path, dtype=DTYPE, mode="r")
        return self._maps[name]


class FeatureStoreWriter:
    """Appends arrays to a store folder; `commit()` publishes them (see the module docstring).

    `previous` is the index committed before this writer opened; a perf_id appended again
    replaces its previous row at the next commit. `keep(perf_ids)` limits which previous rows
    survive the commit (default: all).
    """

    def __init__(self, folder: str | Path, shard_bytes: int = _SHARD_BYTES):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._handle = None
        self._lock = open(self.folder / LOCK_FILE, "a+")  # noqa: SIM115 (held until close)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            self._lock.close()
            raise FeatureStoreError(
                f"{self.folder}: another process is writing this feature store"
            ) from error
        self.previous = read_index(self.folder)
        self._keep: set[str] | None = None
        self._tag = secrets.token_hex(4)
        self._shard_bytes = int(shard_bytes)
        self._shard_no = -1
        self._shard_name = ""
        self._shard_rows = 0
        self._new: dict[str, dict] = {}
        self._appended: set[str] = set()  # since this writer opened, across commits

    def keep(self, perf_ids: Iterable[str]) -> None:
        """Only these rows of `previous` (and everything this writer appended) survive the next
        commit."""
        self._keep = {str(p) for p in perf_ids}

    def append(self, perf_id: str, array: np.ndarray, fingerprint: str) -> None:
        """Write one `(T, F)` array as float16 (not visible before `commit`)."""
        array = np.ascontiguousarray(array, dtype=DTYPE)
        if array.ndim != 2:
            raise ValueError(f"features of {perf_id} must be (frames, bins), got {array.shape}")
        if self._handle is None or self._shard_rows * array.shape[1] * 2 >= self._shard_bytes:
            self._next_shard()
        offset_bytes = self._handle.tell()
        if offset_bytes % (array.shape[1] * DTYPE.itemsize):
            self._next_shard()  # rows of another width: start aligned in a shard of its own
            offset_bytes = 0
        self._handle.write(memoryview(array).cast("B"))
        self._new[str(perf_id)] = {
            "perf_id": str(perf_id),
            "fingerprint": str(fingerprint),
            "n_frames": int(array.shape[0]),
            "n_bins": int(array.shape[1]),
            "shard": self._shard_name,
            "offset": offset_bytes // (array.shape[1] * DTYPE.itemsize),
            "crc32": _crc(array),
        }
        self._appended.add(str(perf_id))
        self._shard_rows += array.shape[0]

    def commit(self) -> FeatureStore:
        """Flush, publish the index atomically, delete unreferenced shards; -> a reader."""
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
        index = self._index()
        _write_parquet_atomically(index, self.folder / INDEX_FILE)
        self._delete_unreferenced(set(index.shard))
        self.previous = index
        self._new = {}
        self._keep = None
        return FeatureStore(self.folder, index)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if not self._lock.closed:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()

    def __enter__(self) -> FeatureStoreWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def _index(self) -> pd.DataFrame:
        old = self.previous[~self.previous.perf_id.isin(self._new.keys())]
        if self._keep is not None:
            old = old[old.perf_id.isin(self._keep | self._appended)]
        new = pd.DataFrame(list(self._new.values()), columns=INDEX_COLUMNS)
        if new.empty:
            return old.reset_index(drop=True)
        return pd.concat([old, new], ignore_index=True).astype(_empty_index().dtypes.to_dict())

    def _next_shard(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            self._handle.close()
        self._shard_no += 1
        self._shard_name = f"shard-{self._tag}-{self._shard_no:05d}.bin"
        self._handle = open(self.folder / self._shard_name, "wb")  # noqa: SIM115
        self._shard_rows = 0

    def _delete_unreferenced(self, referenced: set[str]) -> None:
        current = self._shard_name if self._handle is not None else None
        for path in self.folder.glob("shard-*.bin"):
            if path.name not in referenced and path.name != current:
                path.unlink(missing_ok=True)


def _write_parquet_atomically(table: pd.DataFrame, path: Path) -> None:
    with replaced_atomically(path) as partial:
        table.to_parquet(partial, index=False)
