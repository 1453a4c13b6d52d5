"""Cosine similarity helpers and the min-over-chunk-pairs track distance."""

import math

import pytest
import torch

from coverhunter.retrieval.distances import (
    batched_cosine_similarity,
    cosine_distance_matrix,
    cosine_similarity_matrix,
    track_distances,
)

S = 1 / math.sqrt(2)


def test_cosine_similarity_by_hand():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[1.0, 0.0], [S, S], [-1.0, 0.0]])
    expected = torch.tensor([[1.0, S, -1.0], [0.0, S, 0.0]])
    torch.testing.assert_close(cosine_similarity_matrix(a, b), expected)
    torch.testing.assert_close(cosine_distance_matrix(a, b), 1 - expected)


def test_unnormalised_input_is_rejected():
    with pytest.raises(ValueError, match="L2-normalised"):
        cosine_similarity_matrix(torch.tensor([[2.0, 0.0]]), torch.tensor([[1.0, 0.0]]))
    with pytest.raises(ValueError, match="embedding sizes differ"):
        cosine_similarity_matrix(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0, 0.0]]))


def test_batched_matches_one_by_one_and_ignores_masked_padding():
    gen = torch.Generator().manual_seed(0)
    a = torch.nn.functional.normalize(torch.randn(3, 4, 5, generator=gen), dim=-1)
    b = torch.nn.functional.normalize(torch.randn(3, 2, 5, generator=gen), dim=-1)
    out = batched_cosine_similarity(a, b)
    for w in range(3):
        torch.testing.assert_close(out[w], cosine_similarity_matrix(a[w], b[w]))
    a[0, 3] = 0.0  # padding row
    mask_a = torch.ones(3, 4, dtype=torch.bool)
    mask_a[0, 3] = False
    assert batched_cosine_similarity(a, b, mask_a=mask_a)[0, 3].abs().max() == 0
    with pytest.raises(ValueError):
        batched_cosine_similarity(a, b)


def test_track_distance_is_min_over_chunk_pairs_by_hand():
    e = torch.eye(3)
    # Query track 0: chunks e0, e1. Query track 1: chunk (e1+e2)/sqrt2.
    q = torch.stack([e[0], e[1], (e[1] + e[2]) * S])
    q_ids = torch.tensor([0, 0, 1])
    # Gallery track 0: e2, e1 (shares e1 with query 0). Gallery track 1: -e0 only.
    g = torch.stack([e[2], e[1], -e[0]])
    g_ids = torch.tensor([0, 0, 1])
    expected = torch.tensor([[0.0, 1.0], [1 - S, 1.0]])
    for batch in (1, 2, 100):  # query track 0 straddles the first batch boundary
        out = track_distances(q, q_ids, g, g_ids, n_tracks_q=2, n_tracks_g=2, batch=batch)
        torch.testing.assert_close(out, expected)


def test_track_distances_equal_brute_force_and_empty_tracks_are_inf():
    gen = torch.Generator().manual_seed(1)
    q = torch.nn.functional.normalize(torch.randn(11, 8, generator=gen), dim=1)
    g = torch.nn.functional.normalize(torch.randn(13, 8, generator=gen), dim=1)
    q_ids = torch.randint(0, 3, (11,), generator=gen)  # 4 query tracks, track 3 has no chunks
    g_ids = torch.randint(0, 5, (13,), generator=gen)
    out = track_distances(q, q_ids, g, g_ids, n_tracks_q=4, n_tracks_g=5, batch=3)
    chunk = 1 - q @ g.T
    for t in range(4):
        for r in range(5):
            block = chunk[q_ids == t][:, g_ids == r]
            want = block.min() if block.numel() else torch.tensor(float("inf"))
            assert out[t, r].item() == pytest.approx(want.item(), abs=1e-6)
    assert torch.isinf(out[3]).all()


def test_track_ids_out_of_range_are_rejected():
    x = torch.eye(2)
    with pytest.raises(ValueError, match="query_track_ids"):
        track_distances(x, torch.tensor([0, 2]), x, torch.tensor([0, 1]), 2, 2)
