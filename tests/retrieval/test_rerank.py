"""Re-rank by local alignment: a shifted copy is found where it is, tempo within 2x, the fusion
and the shortlist behave as documented."""

import numpy as np
import pandas as pd
import pytest
import torch

from coverhunter.retrieval.rerank import (
    RerankSettings,
    align_candidates,
    fuse,
    local_alignment,
    rerank_matrix,
    segment_seconds,
    sequences_from_table,
)


def _unit(n: int, dim: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.nn.functional.normalize(
        torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)), dim=1
    )


def test_a_copy_inside_a_longer_recording_is_found_where_it_is():
    song = _unit(30)
    query = song[5:20]  # the query is steps 5..19 of the candidate
    found = align_candidates(query, [song], match_threshold=0.5)
    assert found.score.tolist() == pytest.approx([1.0])
    assert (found.query_first.item(), found.query_last.item()) == (0, 14)
    assert (found.ref_first.item(), found.ref_last.item()) == (5, 19)
    seconds = segment_seconds(found, hop_s=2.0, window_s=6.0)
    assert seconds["match_start_s"].tolist() == [10.0]
    assert seconds["match_end_s"].tolist() == [44.0]
    assert seconds["query_start_s"].tolist() == [0.0]


def test_a_copy_and_a_double_tempo_version_score_fully_an_unrelated_recording_not():
    song = _unit(30)
    unrelated = _unit(30, seed=1)
    faster = song[::2]  # twice the tempo: one step of it per two of the song
    found = align_candidates(song, [song, unrelated, faster], match_threshold=0.5)
    exact, other, fast = found.score.tolist()
    assert exact == pytest.approx(1.0)
    assert other < 0.1
    assert fast == pytest.approx(1.0)  # (2, 1) steps: every step of the shorter one matched
    assert found.ref_last[2].item() == 14 and found.query_last[2].item() == 28


def test_the_path_starts_after_a_prelude_that_does_not_match():
    song = _unit(20)
    with_prelude = torch.cat([_unit(6, seed=2), song])  # 6 unrelated steps, then the song
    found = align_candidates(song, [with_prelude], match_threshold=0.5)
    assert found.ref_first.item() == 6 and found.query_first.item() == 0


def test_padding_never_joins_a_path():
    sim = torch.ones(1, 4, 4)
    found = local_alignment(sim, torch.tensor([2]), torch.tensor([3]), match_threshold=0.0)
    assert found.query_last.item() <= 1 and found.ref_last.item() <= 2
    assert found.score.item() == pytest.approx(1.0)  # two steps, each the most a step can gain


def test_fusion_is_a_weighted_sum():
    emb, align = torch.tensor([0.8]), torch.tensor([0.2])
    assert fuse(emb, align, 0.0).item() == pytest.approx(0.8)
    assert fuse(emb, align, 1.0).item() == pytest.approx(0.2)
    assert fuse(emb, align, 0.25).item() == pytest.approx(0.65)


def test_rerank_lifts_an_aligned_version_over_a_nearer_embedding_and_keeps_the_rest_behind():
    song = _unit(20)
    refs = [_unit(20, seed=5), song[3:18], _unit(20, seed=6)]
    # By embedding, ref 0 is nearest, ref 1 (the true version) second, ref 2 far.
    dist = torch.tensor([[0.10, 0.20, 0.90]])
    settings = RerankSettings(k=2, window_s=4.0, hop_s=1.0, match_threshold=0.5)
    ranked = rerank_matrix(dist, [song], refs, settings)
    assert ranked.shortlist.tolist() == [[0, 1]]
    assert ranked.distances(0.0)[0].tolist() == pytest.approx([0.10, 0.20, 2.90])
    fused = ranked.distances(0.5)[0]
    assert fused[1] < fused[0] < fused[2]  # the aligned version first, the unlisted one last
    assert ranked.segments["match_start_s"][0, 1] == 0.0
    assert ranked.segments["query_start_s"][0, 1] == 3.0


def test_excluded_references_are_never_shortlisted():
    dist = torch.tensor([[0.0, 0.5, 0.4]])
    sequences = [_unit(5, seed=i) for i in range(3)]
    exclude = torch.tensor([[True, False, False]])
    ranked = rerank_matrix(dist, sequences[:1], sequences, RerankSettings(k=5), exclude=exclude)
    assert ranked.shortlist.tolist() == [[2, 1]]


def test_sequences_come_back_in_time_order_and_a_missing_one_is_named():
    table = pd.DataFrame(
        {
            "perf_id": ["a", "a", "b"],
            "chunk_idx": [1, 0, 0],
            "embedding": [np.full(2, 1.0), np.full(2, 0.0), np.full(2, 2.0)],
        }
    )
    a, b = sequences_from_table(table, ["a", "b"])
    assert a[:, 0].tolist() == [0.0, 1.0] and b.shape == (1, 2)
    with pytest.raises(ValueError, match="no re-rank sequence"):
        sequences_from_table(table, ["c"])


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="k must be"):
        RerankSettings(k=0)
    with pytest.raises(ValueError, match="fusion_weight"):
        RerankSettings(fusion_weight=1.5)


def test_centred_similarity_the_same_everywhere_aligns_nothing():
    # raw, a level of 0.8 in every cell is one long path; centred, it says nothing about where
    # two recordings match
    sim = torch.full((1, 6, 8), 0.8)
    lengths = (torch.tensor([6]), torch.tensor([8]))
    assert local_alignment(sim, *lengths, match_threshold=0.5).score.item() > 0.5
    assert local_alignment(sim, *lengths, match_threshold=0.0, centre=True).score.item() == 0.0


def test_centring_is_a_setting_of_the_rerank():
    song = _unit(20)
    refs = [song[2:18], _unit(20, seed=7)]
    settings = RerankSettings(k=2, window_s=4.0, hop_s=1.0, match_threshold=0.0, centre=True)
    ranked = rerank_matrix(torch.tensor([[0.2, 0.3]]), [song], refs, settings)
    assert ranked.alignment_score[0, 0] > ranked.alignment_score[0, 1]
    assert ranked.segments["match_start_s"][0, 0] == 0.0
    assert ranked.segments["query_start_s"][0, 0] == 2.0
