"""Chunk matching and the offset mode, against hand-worked and plain-loop answers."""

import numpy as np
import pandas as pd
import pytest
import torch

from coverhunter.alignment.match import (
    PAIR_COLUMNS,
    align_collection,
    align_pair,
    align_work,
    mode_offsets,
)


def _unit(n: int, dim: int, gen: torch.Generator) -> torch.Tensor:
    x = torch.randn(n, dim, generator=gen)
    return x / x.norm(dim=1, keepdim=True)


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(7)


def _pair_row(result) -> dict:
    assert len(result.pairs) == 1
    return result.pairs.iloc[0].to_dict()


@pytest.mark.parametrize("k", [1, 3])
def test_copy_delayed_by_k_chunks_aligns_at_k(gen, k):
    # b = a delayed by k chunks: b[j] = a[j - k], so every aligned pair is (i, i + k).
    a = _unit(6, 32, gen)
    b = torch.cat([_unit(k, 32, gen), a])
    result = align_pair(a, b)
    row = _pair_row(result)
    assert (row["delta"], row["n_matches"], row["first_idx_a"], row["first_idx_b"]) == (k, 6, 0, k)
    assert result.chunk_pairs[["idx_a", "idx_b"]].values.tolist() == [[i, i + k] for i in range(6)]


def test_copy_advanced_by_two_chunks_aligns_at_minus_two(gen):
    a = _unit(6, 32, gen)
    row = _pair_row(align_pair(a, a[2:]))
    assert (row["delta"], row["n_matches"], row["first_idx_a"], row["first_idx_b"]) == (-2, 4, 2, 0)


def test_unshifted_copy_aligns_at_zero(gen):
    # The authors' aligner skips equal indices, so offset 0 could never win there.
    a = _unit(5, 32, gen)
    result = align_pair(a, a.clone())
    row = _pair_row(result)
    assert (row["delta"], row["n_matches"], row["aligned"]) == (0, 5, True)
    assert row["similarity"] == pytest.approx(1.0, abs=1e-6)
    assert result.chunk_pairs[["idx_a", "idx_b"]].values.tolist() == [[i, i] for i in range(5)]


def test_prelude_and_own_ending_recover_offset(gen):
    # b = 3 chunks of its own prelude, a's middle, then an ending of its own: the offset is 3
    # even though a's first and last chunks have no counterpart in b.
    a = _unit(8, 32, gen)
    b = torch.cat([_unit(3, 32, gen), a[1:6], _unit(2, 32, gen)])
    result = align_pair(a, b)
    row = _pair_row(result)
    assert (row["delta"], row["n_matches"], row["first_idx_a"], row["first_idx_b"]) == (2, 5, 1, 3)


def test_unrelated_pair_is_not_aligned(gen):
    row = _pair_row(align_pair(_unit(6, 64, gen), _unit(7, 64, gen)))
    assert (row["aligned"], row["n_candidates"], row["n_matches"]) == (False, 0, 0)
    assert (row["first_idx_a"], row["first_idx_b"]) == (-1, -1)
    assert np.isnan(row["similarity"])


def test_too_few_matches_at_the_mode_is_unaligned_not_forced(gen):
    a = _unit(4, 32, gen)
    b = torch.cat([_unit(3, 32, gen), a[:1]])  # one shared chunk: (0, 3)
    assert _pair_row(align_pair(a, b, min_matches=1))["delta"] == 3
    row = _pair_row(align_pair(a, b, min_matches=2))
    assert (row["aligned"], row["n_candidates"], row["n_matches"]) == (False, 1, 1)


def test_paper_worked_example():
    # Section II-D: 1-based (p_a, p_b) matches whose offsets have mode 2, aligned pairs
    # (1,3), (2,4), (4,6). Sim is 0.95 on the matches, 0.1 elsewhere.
    matches = [(1, 1), (1, 2), (1, 3), (2, 4), (2, 5), (3, 4), (4, 2), (4, 6), (5, 4), (5, 5)]
    sim = torch.full((1, 5, 6), 0.1)
    for i, j in matches:
        sim[0, i - 1, j - 1] = 0.95
    modes = mode_offsets(sim, torch.ones_like(sim, dtype=torch.bool), threshold=0.9)
    assert modes.delta.tolist() == [2]
    assert (modes.n_candidates.item(), modes.n_matches.item()) == (10, 3)
    aligned = (modes.at_mode[0].nonzero() + 1).tolist()
    assert aligned == [[1, 3], [2, 4], [4, 6]]


def test_mode_tie_goes_to_larger_summed_similarity_then_smaller_offset():
    # Offsets +1 and -1 each have one match; +1's is more similar, so +1 wins.
    sim = torch.zeros(3, 3, 3)
    sim[0, 0, 1], sim[0, 1, 0] = 0.99, 0.95
    # Equal similarity at offsets +2 and -1: the smaller |delta| (-1) wins.
    sim[1, 0, 2], sim[1, 1, 0] = 0.95, 0.95
    # Equal similarity at +1 and -1: the negative one wins.
    sim[2, 0, 1], sim[2, 1, 0] = 0.95, 0.95
    modes = mode_offsets(sim, torch.ones_like(sim, dtype=torch.bool), threshold=0.9)
    assert modes.delta.tolist() == [1, -1, -1]


def test_padding_never_matches():
    sim = torch.ones(1, 2, 3)
    valid = torch.zeros(1, 2, 3, dtype=torch.bool)
    valid[0, 1, 2] = True
    modes = mode_offsets(sim, valid, threshold=0.9)
    assert (modes.delta.item(), modes.n_candidates.item()) == (1, 1)


def _reference_pair(a: np.ndarray, b: np.ndarray, threshold: float) -> tuple:
    """Plain loops: the mode offset, its matches and their summed similarity."""
    counts: dict[int, int] = {}
    sums: dict[int, float] = {}
    for i in range(len(a)):
        for j in range(len(b)):
            s = float(np.dot(a[i], b[j]))
            if s > threshold:
                counts[j - i] = counts.get(j - i, 0) + 1
                sums[j - i] = sums.get(j - i, 0.0) + s
    if not counts:
        return None, 0, []
    delta = min(counts, key=lambda d: (-counts[d], -sums[d], abs(d), d > 0))
    pairs = [
        (i, j)
        for i in range(len(a))
        for j in range(len(b))
        if j - i == delta and float(np.dot(a[i], b[j])) > threshold
    ]
    return delta, sum(counts.values()), pairs


def test_vectorised_work_equals_plain_per_pair_loops(gen):
    # Low-dimensional random vectors with a low threshold give many matches at many offsets.
    lengths = [5, 9, 3, 7, 6, 8]
    sets = [_unit(n, 4, gen) for n in lengths]
    perf_ids = [f"p{v}" for v in range(len(sets))]
    result = align_work(sets, perf_ids, threshold=0.5, max_elements=50)  # several pair batches
    assert len(result.pairs) == 15
    for row in result.pairs.itertuples():
        a = sets[perf_ids.index(row.perf_a)].numpy().astype(np.float64)
        b = sets[perf_ids.index(row.perf_b)].numpy().astype(np.float64)
        delta, n_candidates, pairs = _reference_pair(a, b, 0.5)
        assert row.n_candidates == n_candidates
        assert row.delta == delta
        assert row.n_matches == len(pairs)
        chunk = result.chunk_pairs[
            (result.chunk_pairs.perf_a == row.perf_a) & (result.chunk_pairs.perf_b == row.perf_b)
        ]
        assert list(zip(chunk.idx_a, chunk.idx_b, strict=True)) == pairs
        expected_sim = np.mean([a[i] @ b[j] for i, j in pairs])
        assert row.similarity == pytest.approx(expected_sim, abs=1e-5)


def test_align_work_rejects_unnormalised_and_repeated_ids(gen):
    a = _unit(3, 8, gen)
    with pytest.raises(ValueError, match="L2-normalised"):
        align_work([a, 2 * a], ["x", "y"])
    with pytest.raises(ValueError, match="repeat"):
        align_work([a, a], ["x", "x"])


def test_single_version_gives_no_pairs(gen):
    result = align_work([_unit(3, 8, gen)], ["solo"])
    assert list(result.pairs.columns) == list(PAIR_COLUMNS) and len(result.pairs) == 0


def _chunk_table(perfs: dict[str, tuple[str, torch.Tensor]]) -> tuple[pd.DataFrame, torch.Tensor]:
    rows, embs = [], []
    for perf_id, (work_id, emb) in perfs.items():
        rows += [(perf_id, work_id, i) for i in range(emb.shape[0])]
        embs.append(emb)
    table = pd.DataFrame(rows, columns=["perf_id", "work_id", "chunk_idx"])
    return table, torch.cat(embs)


def test_prefix_ids_are_never_confused(gen):
    # "12" is a prefix/substring of "112", and work "1" of work "11". Substring matching would
    # pull "112"'s chunks into "12" (and work "11" into "1"), changing counts and offsets.
    base_1 = _unit(5, 32, gen)
    base_11 = _unit(4, 32, gen)
    table, emb = _chunk_table(
        {
            "112": ("11", base_11),
            "12": ("1", base_1),
            "13": ("1", torch.cat([_unit(2, 32, gen), base_1])),  # "12" delayed by 2 chunks
            "113": ("11", base_11[1:]),  # "112" advanced by 1 chunk
        }
    )
    order = np.random.default_rng(0).permutation(len(table))  # rows in no particular order
    out = align_collection(table.iloc[order], emb[order])
    got = out[["work_id", "perf_a", "perf_b", "delta", "n_matches", "n_candidates"]]
    assert got.values.tolist() == [["1", "12", "13", 2, 5, 5], ["11", "112", "113", -1, 3, 3]]


def test_align_collection_rejects_numeric_ids_and_gaps(gen):
    emb = _unit(2, 8, gen)
    numeric = pd.DataFrame({"perf_id": [12, 12], "work_id": ["w", "w"], "chunk_idx": [0, 1]})
    with pytest.raises(ValueError, match="perf_id"):
        align_collection(numeric, emb)
    gap = pd.DataFrame({"perf_id": ["a", "a"], "work_id": ["w", "w"], "chunk_idx": [0, 2]})
    with pytest.raises(ValueError, match="chunk_idx of performance 'a'"):
        align_collection(gap, emb)
