"""The compiled alignment loops (retrieval/alignment_kernel.py) against a plain restatement of
what they compute, cell by cell, on small random matrices with padding and ties."""

import numpy as np
import pytest
import torch

from coverhunter.retrieval.alignment_kernel import (
    best_local_paths,
    kth_largest_of_columns,
    kth_largest_of_rows,
    marked_local_path,
    stacked_similarities,
)
from coverhunter.retrieval.pitch_rerank import stacked_states


def _plain_best_path(gain: np.ndarray, tq: int, tr: int):
    """The best local path of one `(Tq, Tr)` gain matrix, by the definition: every cell's best
    total of a path ending there (from its (1, 1), (2, 1) or (1, 2) predecessor, the first on a
    tie, or afresh when none is above 0), with where that path starts."""
    total = {}
    start = {}

    def at(i, j):
        return total.get((i, j), np.float32(0.0))

    best = (np.float32(0.0), 0, 0)
    for i in range(tq):
        for j in range(tr):
            options = [(i - 1, j - 1), (i - 2, j - 1), (i - 1, j - 2)]
            pick = max(options, key=lambda cell: (at(*cell), -options.index(cell)))
            if at(*pick) > 0:
                value, first = at(*pick) + gain[i, j], start[pick]
            else:
                value, first = np.float32(0.0) + gain[i, j], (i, j)
            total[(i, j)], start[(i, j)] = max(value, np.float32(0.0)), first
            if total[(i, j)] > best[0]:
                best = (total[(i, j)], i, j)
    top, i, j = best
    first_i, first_j = start.get((i, j), (0, 0))
    return top, first_i, i, first_j, j


@pytest.mark.parametrize("binary", [False, True])
def test_best_local_paths_are_the_plain_definition(binary):
    rng = np.random.default_rng(5 + binary)
    gain = rng.uniform(-1, 1, size=(6, 14, 17)).astype(np.float32)
    if binary:  # the pitch stage's 0/1 matrices: many equal totals, ties settled in order
        gain = np.where(gain > 0.6, 0.67, -0.33).astype(np.float32)
    query_len = np.array([14, 9, 1, 14, 5, 12], dtype=np.int64)
    ref_len = np.array([17, 17, 3, 1, 8, 11], dtype=np.int64)
    found = best_local_paths(gain, query_len, ref_len)
    for b in range(len(gain)):
        expected = _plain_best_path(gain[b], int(query_len[b]), int(ref_len[b]))
        got = tuple(part[b] for part in found)
        assert got[0] == pytest.approx(expected[0], rel=1e-6) and got[1:] == expected[1:], b


def test_no_gain_anywhere_is_an_empty_path_at_the_origin():
    gain = np.full((1, 4, 5), -0.5, dtype=np.float32)
    total, *cells = best_local_paths(gain, np.array([4]), np.array([5]))
    assert total[0] == 0.0 and [int(c[0]) for c in cells] == [0, 0, 0, 0]


def test_kth_largest_of_rows_is_the_sorted_rows_kth():
    rng = np.random.default_rng(9)
    values = rng.uniform(-1, 1, size=(30, 57)).astype(np.float32)
    values[:10] = (values[:10] * 5).round() / 5  # many ties
    values[10:15] /= 1000  # all in a few bins
    values[15, :5] = [1.5, -1.5, 1.0, -1.0, 0.0]  # the ends, and outside them
    for k in (1, 2, 5, 28, 57):
        expected = np.sort(values, axis=1)[:, -k]
        np.testing.assert_array_equal(kth_largest_of_rows(values, k), expected)
    assert np.all(kth_largest_of_rows(values, 58) == -np.inf)  # fewer values than k


def test_kth_largest_of_columns_is_each_columns_kth_largest():
    rng = np.random.default_rng(10)
    values = ((rng.uniform(-1, 1, size=(45, 70)) * 4).round() / 4).astype(np.float32)  # ties
    scratch = np.full(45 * 70 + 7, np.nan, dtype=np.float32)  # larger than needed, any content
    for k in (1, 3, 45):  # 45 rows and 70 columns: full tiles of 32 and parts in both
        expected = np.sort(values, axis=0)[-k]
        np.testing.assert_array_equal(kth_largest_of_columns(values, k, scratch), expected)
    assert np.all(kth_largest_of_columns(values, 46, scratch) == -np.inf)  # fewer values than k


@pytest.mark.parametrize(("tq", "tr", "stack"), [(30, 41, 8), (5, 20, 8), (3, 2, 8), (12, 12, 1)])
def test_stacked_similarities_are_the_states_cosines(tq, tr, stack):
    rng = np.random.default_rng(tq * tr)
    query = torch.from_numpy(rng.random((tq, 12)).astype(np.float32))
    ref = torch.from_numpy(rng.random((tr, 12)).astype(np.float32))
    query[4 % tq] = 0.0  # a silent frame: no length, and its states shorter
    expected = (stacked_states(query, stack) @ stacked_states(ref, stack).T).numpy()
    unit_q, unit_r = (torch.nn.functional.normalize(x, dim=1) for x in (query, ref))
    out = np.full(expected.shape, np.nan, dtype=np.float32)
    present_q, present_r = ((x.abs().sum(1) > 0).float().numpy() for x in (unit_q, unit_r))
    stacked_similarities((unit_q @ unit_r.T).numpy(), present_q, present_r, stack, out)
    np.testing.assert_allclose(out, expected, atol=1e-6)


@pytest.mark.parametrize("kappa", [0.05, 0.1, 0.3])
def test_marked_local_path_is_the_best_path_of_the_mutual_neighbours(kappa):
    rng = np.random.default_rng(int(kappa * 100))
    for tq, tr in ((12, 20), (20, 13), (3, 2), (1, 9)):
        sim = ((rng.random((tq, tr)) * 5).round() / 5).astype(np.float32)  # many ties
        k_row, k_col = max(1, int(kappa * tr)), max(1, int(kappa * tq))
        row_floor = np.sort(sim, axis=1)[:, -k_row]
        col_floor = np.sort(sim, axis=0)[-k_col]
        marked = (sim >= row_floor[:, None]) & (sim >= col_floor[None, :])
        gain = np.where(marked, 0.67, -0.33).astype(np.float32)
        found = marked_local_path(sim, row_floor, col_floor, 0.67, -0.33)
        expected = _plain_best_path(gain, tq, tr)
        assert found[0] == pytest.approx(expected[0], rel=1e-6), (tq, tr)
        assert tuple(int(x) for x in found[1:]) == expected[1:], (tq, tr)
