"""FaissIndexDataset: a saved and reloaded index answers searches exactly as before."""

import numpy as np
import pytest
from kedro.io.core import DatasetError, Version

from coverhunter.datasets.faiss_index_dataset import FaissIndexDataset
from coverhunter.retrieval.index import build_index, search_tracks


def _gallery(seed: int = 0):
    rng = np.random.default_rng(seed)
    chunks = rng.normal(size=(300, 16)).astype(np.float32)
    chunks /= np.linalg.norm(chunks, axis=1, keepdims=True)
    perf_ids = np.repeat([f"p{i}" for i in range(100)], 3)
    starts = np.tile([0.0, 45.0, 90.0], 100)
    queries = chunks[::7] + 0.1 * rng.normal(size=chunks[::7].shape).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return chunks, perf_ids, starts, queries


def _results(index, queries):
    hits = search_tracks(index, queries, 5, 20, np.arange(len(queries)) // 2)
    return [
        (
            h.perf_ids.tolist(),
            h.distances.tolist(),
            h.gallery_chunk.tolist(),
            h.gallery_start_s.tolist(),
        )
        for h in hits
    ]


@pytest.mark.parametrize(
    ("index_type", "params"),
    [
        ("flat", {}),
        ("hnsw", {"hnsw_m": 8, "ef_search": 7}),
        ("ivfpq", {"nlist": 4, "pq_m": 4, "nbits": 8, "nprobe": 3}),
    ],
)
def test_round_trip_gives_identical_search_results(tmp_path, index_type, params):
    chunks, perf_ids, starts, queries = _gallery()
    index = build_index(chunks, perf_ids, starts, index_type, **params)
    dataset = FaissIndexDataset(filepath=str(tmp_path / "idx" / "gallery.faiss"))
    assert not dataset.exists()
    dataset.save(index)
    assert dataset.exists()
    loaded = dataset.load()
    assert loaded.chunk_perf_ids.tolist() == perf_ids.tolist()
    assert loaded.chunk_starts_s.tolist() == starts.tolist()
    assert _results(loaded, queries) == _results(index, queries)


def test_versioned_round_trip_and_missing_file(tmp_path):
    chunks, perf_ids, starts, queries = _gallery(1)
    index = build_index(chunks, perf_ids, starts)
    dataset = FaissIndexDataset(
        filepath=str(tmp_path / "gallery.faiss"), version=Version(None, None)
    )
    dataset.save(index)
    assert _results(dataset.load(), queries) == _results(index, queries)
    with pytest.raises(DatasetError):
        FaissIndexDataset(filepath=str(tmp_path / "nothing.faiss")).load()
    with pytest.raises(DatasetError, match="ChunkIndex"):
        FaissIndexDataset(filepath=str(tmp_path / "x.faiss")).save("not an index")
