"""faiss chunk indexes (flat, HNSW, IVF-PQ) searched at track level."""

import math

import numpy as np
import pytest

from coverhunter.retrieval.index import add, build_index, search_tracks

S = 1 / math.sqrt(2)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _hand_index(index_type: str = "flat"):
    e = np.eye(4, dtype=np.float32)
    chunks = np.stack([e[0], e[1], e[2], _unit(np.array([[1, 1, 0, 0]]))[0], e[3]])
    return build_index(
        chunks,
        chunk_perf_ids=["x", "x", "y", "y", "z"],
        chunk_starts_s=[0.0, 45.0, 0.0, 45.0, 0.0],
        index_type=index_type,
    )


def test_search_tracks_by_hand():
    index = _hand_index()
    # Query chunk 0 is e1 (x's chunk 1 exactly; y's chunk 1 at cos S); query chunk 1 is e3 (z).
    query = np.eye(4, dtype=np.float32)[[1, 3]]
    (hits,) = search_tracks(index, query, k_tracks=2, k_chunks=5)
    assert hits.perf_ids.tolist() == ["x", "z"]
    np.testing.assert_allclose(hits.distances, [0.0, 0.0], atol=1e-6)
    assert hits.query_chunk.tolist() == [0, 1]
    assert hits.gallery_chunk.tolist() == [1, 4]
    assert hits.gallery_start_s.tolist() == [45.0, 0.0]

    (all_hits,) = search_tracks(index, query, k_tracks=10, k_chunks=5)
    assert all_hits.perf_ids.tolist() == ["x", "z", "y"]
    assert all_hits.distances[2] == pytest.approx(1 - S, abs=1e-6)
    assert (all_hits.query_chunk[2], all_hits.gallery_chunk[2]) == (0, 3)


def test_ties_go_to_smaller_perf_id_and_tracks_are_separate():
    index = _hand_index()
    # e0 + e2 is equally close to x's chunk 0 and y's chunk 2.
    query = np.vstack([_unit(np.array([[1, 0, 1, 0]])), np.eye(4, dtype=np.float32)[[3]]])
    first, second = search_tracks(index, query, k_tracks=2, k_chunks=5, query_track_ids=[0, 1])
    assert first.perf_ids.tolist() == ["x", "y"]
    assert first.distances[0] == pytest.approx(first.distances[1])
    assert second.perf_ids[0] == "z" and second.query_chunk[0] == 1


def _clustered(n_perf: int, chunks_per: int, dim: int, seed: int):
    rng = np.random.default_rng(seed)
    centres = _unit(rng.normal(size=(n_perf, dim)))
    chunks = _unit(
        np.repeat(centres, chunks_per, 0) + 0.05 * rng.normal(size=(n_perf * chunks_per, dim))
    )
    perf_ids = np.repeat([f"p{i:03d}" for i in range(n_perf)], chunks_per)
    starts = np.tile(np.arange(chunks_per) * 45.0, n_perf)
    queries = _unit(centres + 0.05 * rng.normal(size=centres.shape))
    return chunks, perf_ids, starts, queries


@pytest.mark.parametrize(
    ("index_type", "params"),
    [
        ("hnsw", {"hnsw_m": 8, "ef_search": 32}),
        ("ivfpq", {"nlist": 4, "pq_m": 4, "nbits": 6, "nprobe": 2}),
    ],
)
def test_approximate_indexes_find_the_same_top_track_as_flat(index_type, params):
    chunks, perf_ids, starts, queries = _clustered(n_perf=40, chunks_per=3, dim=16, seed=0)
    exact = build_index(chunks, perf_ids, starts, "flat")
    approx = build_index(chunks, perf_ids, starts, index_type, **params)
    track_ids = np.arange(len(queries))
    want = search_tracks(exact, queries, 1, 10, track_ids)
    got = search_tracks(approx, queries, 1, 10, track_ids)
    assert [h.perf_ids[0] for h in want] == [f"p{i:03d}" for i in range(40)]
    assert [h.perf_ids[0] for h in got] == [h.perf_ids[0] for h in want]


def test_ivfpq_names_minimum_training_size():
    chunks, perf_ids, starts, _ = _clustered(n_perf=10, chunks_per=3, dim=16, seed=1)
    with pytest.raises(ValueError, match="at least 256 gallery chunks"):
        build_index(chunks, perf_ids, starts, "ivfpq", nlist=4, pq_m=4, nbits=8)
    with pytest.raises(ValueError, match="index_type"):
        build_index(chunks, perf_ids, starts, "annoy")


def test_add_appends_new_performances_and_keeps_old_rows():
    chunks, perf_ids, starts, queries = _clustered(n_perf=6, chunks_per=2, dim=8, seed=2)
    index = build_index(chunks[:8], perf_ids[:8], starts[:8])
    before = search_tracks(index, queries[:4], 1, 4, np.arange(4))
    grown = add(index, chunks[8:], perf_ids[8:], starts[8:])
    assert grown.n_chunks == 12
    assert grown.chunk_perf_ids[:8].tolist() == perf_ids[:8].tolist()
    after = search_tracks(grown, queries, 1, 4, np.arange(6))
    assert [h.perf_ids[0] for h in after] == [f"p{i:03d}" for i in range(6)]
    assert [h.gallery_chunk[0] for h in after[:4]] == [h.gallery_chunk[0] for h in before]
    with pytest.raises(ValueError, match="already in the index"):
        add(grown, chunks[:1], perf_ids[:1], starts[:1])


def test_bad_inputs_are_rejected():
    chunks, perf_ids, starts, _ = _clustered(n_perf=2, chunks_per=2, dim=8, seed=3)
    with pytest.raises(ValueError, match="L2-normalised"):
        build_index(chunks * 2, perf_ids, starts)
    with pytest.raises(ValueError, match="strings"):
        build_index(chunks, np.arange(4), starts)
