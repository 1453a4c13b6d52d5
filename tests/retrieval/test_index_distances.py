"""Track distances through a faiss index equal the direct min-over-chunk-pairs computation."""

import math

import numpy as np
import pytest
import torch

from coverhunter.retrieval.distances import track_distances
from coverhunter.retrieval.index import build_index
from coverhunter.retrieval.index_distances import index_track_distances

S = 1 / math.sqrt(2)


def test_hand_built_distances_and_best_pairs():
    e = np.eye(3, dtype=np.float32)
    diag = np.array([S, S, 0], dtype=np.float32)
    # gallery: x = [e0, e1], y = [diag], z = [e2]
    index = build_index(np.stack([e[0], e[1], diag, e[2]]), ["x", "x", "y", "z"], [0, 45, 0, 0])
    # query 0 = [e1], query 1 = [e2, diag]
    queries = np.stack([e[1], e[2], diag])
    found = index_track_distances(index, queries, np.array([0, 1, 1]), 2, ["z", "x", "y"])
    expected = [[1.0, 0.0, 1 - S], [0.0, 1 - S, 0.0]]
    np.testing.assert_allclose(found.distances.numpy(), expected, atol=1e-6)
    assert found.gallery_chunk.tolist() == [[3, 1, 2], [3, 0, 2]]
    assert found.query_chunk.tolist() == [[0, 0, 0], [1, 2, 2]]
    # fetching one chunk per query chunk leaves unreached pairs at +inf
    near = index_track_distances(index, queries, np.array([0, 1, 1]), 2, ["z", "x", "y"], 1)
    assert near.distances[0].tolist() == [math.inf, 0.0, math.inf]
    assert near.gallery_chunk[0].tolist() == [-1, 1, -1]


@pytest.mark.parametrize("batch_tracks", [1, 3, 100])
def test_exact_search_equals_the_direct_computation(batch_tracks):
    rng = np.random.default_rng(0)
    chunks = rng.normal(size=(40, 8)).astype(np.float32)
    chunks /= np.linalg.norm(chunks, axis=1, keepdims=True)
    track = np.sort(rng.integers(0, 12, size=40))
    perf_ids = [f"p{t:02d}" for t in range(12)]
    index = build_index(chunks, [perf_ids[t] for t in track], np.zeros(40))
    found = index_track_distances(index, chunks, track, 12, perf_ids, batch_tracks=batch_tracks)
    ids = torch.as_tensor(track)
    direct = track_distances(torch.as_tensor(chunks), ids, torch.as_tensor(chunks), ids, 12, 12)
    np.testing.assert_allclose(found.distances.numpy(), direct.numpy(), atol=1e-5)


def test_bad_arguments_are_named():
    index = build_index(np.eye(2, dtype=np.float32), ["a", "b"], [0, 0])
    with pytest.raises(ValueError, match="duplicates"):
        index_track_distances(index, np.eye(2, dtype=np.float32), [0, 1], 2, ["a", "a"])
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        index_track_distances(index, np.eye(2, dtype=np.float32), [0, 1], 1, ["a", "b"])
