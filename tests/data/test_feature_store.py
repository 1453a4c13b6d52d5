"""The feature store: memory-mapped float16 arrays, committed atomically, read without loading."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from coverhunter.data.feature_store import (
    FeatureStore,
    FeatureStoreError,
    FeatureStoreWriter,
)


def _array(seed: int, n_frames: int, n_bins: int = 96) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-80, 0, size=(n_frames, n_bins)).astype(np.float32)


def test_arrays_round_trip_as_float16_memmap_views(tmp_path):
    arrays = {"a": _array(0, 50), "b": _array(1, 7), "c": _array(2, 300)}
    with FeatureStoreWriter(tmp_path / "store") as writer:
        for perf_id, array in arrays.items():
            writer.append(perf_id, array, fingerprint=f"fp-{perf_id}")
        store = writer.commit()
    reopened = FeatureStore(tmp_path / "store")
    for reader in (store, reopened):
        assert sorted(reader) == ["a", "b", "c"]
        for perf_id, array in arrays.items():
            view = reader[perf_id]
            assert isinstance(view.base if view.base is not None else view, np.memmap)
            assert view.dtype == np.float16 and view.shape == array.shape
            np.testing.assert_array_equal(view, array.astype(np.float16))
            assert reader.float32()[perf_id].dtype == np.float32
    assert dict(zip(reopened.table.perf_id, reopened.table.fingerprint, strict=True)) == {
        "a": "fp-a",
        "b": "fp-b",
        "c": "fp-c",
    }
    assert reopened.verify() == []


def test_nothing_is_visible_before_commit_and_a_killed_writer_leaves_the_last_commit(tmp_path):
    folder = tmp_path / "store"
    with FeatureStoreWriter(folder) as writer:
        writer.append("kept", _array(0, 20), "fp")
        writer.commit()
        writer.append("lost", _array(1, 20), "fp")
    # the writer above closed without committing "lost", as a killed process would
    assert list(FeatureStore(folder)) == ["kept"]
    with FeatureStoreWriter(folder) as writer:
        assert list(writer.previous.perf_id) == ["kept"]
        writer.commit()
    # the uncommitted shard is gone once nothing refers to it
    shards = sorted(p.name for p in folder.glob("shard-*.bin"))
    assert shards == sorted(set(FeatureStore(folder).table.shard))


def test_a_process_killed_mid_write_leaves_a_readable_store(tmp_path):
    folder = tmp_path / "store"
    script = textwrap.dedent(
        f"""
        import os, numpy as np
        from coverhunter.data.feature_store import FeatureStoreWriter
        writer = FeatureStoreWriter({str(folder)!r})
        writer.append("first", np.ones((30, 96), np.float32), "fp")
        writer.commit()
        writer.append("second", np.ones((30, 96), np.float32), "fp")
        os._exit(9)  # no commit, no close: as SIGKILL would leave it
        """
    )
    result = subprocess.run([sys.executable, "-c", script])
    assert result.returncode == 9
    store = FeatureStore(folder)
    assert list(store) == ["first"]
    np.testing.assert_array_equal(store["first"], np.ones((30, 96), np.float16))
    with FeatureStoreWriter(folder) as writer:  # the lock died with the process
        writer.append("second", np.zeros((30, 96), np.float32), "fp")
        writer.commit()
    assert sorted(FeatureStore(folder)) == ["first", "second"]


def test_appending_a_perf_again_replaces_it_and_keep_drops_the_rest(tmp_path):
    folder = tmp_path / "store"
    with FeatureStoreWriter(folder) as writer:
        for perf_id in ("a", "b", "c"):
            writer.append(perf_id, _array(ord(perf_id), 10), "old")
        writer.commit()
    with FeatureStoreWriter(folder) as writer:
        writer.append("b", _array(99, 12), "new")
        writer.keep(["a"])  # c left the manifest
        store = writer.commit()
    assert sorted(store) == ["a", "b"]
    assert store["b"].shape == (12, 96)
    np.testing.assert_array_equal(store["b"], _array(99, 12).astype(np.float16))
    assert store.table.set_index("perf_id").fingerprint.to_dict() == {"a": "old", "b": "new"}


def test_keep_never_drops_what_this_writer_appended_before_an_intermediate_commit(tmp_path):
    with FeatureStoreWriter(tmp_path / "store") as writer:
        writer.append("old", _array(0, 10), "fp")
        writer.commit()
    with FeatureStoreWriter(tmp_path / "store") as writer:
        writer.append("x", _array(1, 10), "fp")
        writer.commit()  # a resumable run commits as it goes
        writer.append("y", _array(2, 10), "fp")
        writer.keep([])  # no previous row is still wanted
        store = writer.commit()
    assert sorted(store) == ["x", "y"]


def test_shards_nobody_refers_to_are_deleted_when_everything_is_recomputed(tmp_path):
    folder = tmp_path / "store"
    for run in range(3):
        with FeatureStoreWriter(folder) as writer:
            writer.append("a", _array(run, 100), f"run-{run}")
            writer.commit()
    assert len(list(folder.glob("shard-*.bin"))) == 1


def test_a_second_writer_is_refused_while_one_writes(tmp_path):
    with FeatureStoreWriter(tmp_path / "store"):
        with pytest.raises(FeatureStoreError, match="another process is writing"):
            FeatureStoreWriter(tmp_path / "store")


def test_truncated_shard_and_corrupt_index_are_named(tmp_path):
    folder = tmp_path / "store"
    with FeatureStoreWriter(folder) as writer:
        writer.append("a", _array(0, 100), "fp")
        writer.append("b", _array(1, 100), "fp")
        writer.commit()
    shard = next(folder.glob("shard-*.bin"))
    with open(shard, "r+b") as handle:
        handle.truncate(shard.stat().st_size - 1000)
    store = FeatureStore(folder)
    np.testing.assert_array_equal(store["a"], _array(0, 100).astype(np.float16))
    with pytest.raises(FeatureStoreError, match="truncated"):
        store["b"]
    assert store.verify() == ["b"]
    (folder / "index.parquet").write_bytes(b"not parquet")
    with pytest.raises(FeatureStoreError, match="index.parquet"):
        FeatureStore(folder)


def test_flipped_bytes_fail_verification(tmp_path):
    folder = tmp_path / "store"
    with FeatureStoreWriter(folder) as writer:
        writer.append("a", _array(0, 10), "fp")
        writer.commit()
    shard = next(folder.glob("shard-*.bin"))
    data = bytearray(shard.read_bytes())
    data[5] ^= 0xFF
    shard.write_bytes(bytes(data))
    assert FeatureStore(folder).verify() == ["a"]


def test_a_reader_pickles_without_its_memmaps(tmp_path):
    with FeatureStoreWriter(tmp_path / "store") as writer:
        writer.append("a", _array(0, 4000), "fp")
        store = writer.commit()
    store["a"]  # opens the shard
    payload = pickle.dumps(store)
    assert len(payload) < 10_000  # the index, not the 768 kB of features
    np.testing.assert_array_equal(pickle.loads(payload)["a"], store["a"])
    as_float32 = pickle.loads(pickle.dumps(store.float32()))  # a DataLoader worker's copy
    assert as_float32["a"].dtype == np.float32 and store["a"].dtype == np.float16
    np.testing.assert_array_equal(as_float32["a"], store["a"].astype(np.float32))


def test_small_shards_split_the_collection(tmp_path):
    with FeatureStoreWriter(tmp_path / "store", shard_bytes=96 * 2 * 100) as writer:
        for index in range(5):
            writer.append(f"p{index}", _array(index, 60), "fp")
        store = writer.commit()
    assert store.table.shard.nunique() >= 3
    for index in range(5):
        np.testing.assert_array_equal(store[f"p{index}"], _array(index, 60).astype(np.float16))
