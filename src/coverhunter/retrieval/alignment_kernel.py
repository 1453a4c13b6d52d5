"""The local alignment's inner loops, compiled (numba): the cost of the re-rank's pitch stage.

`retrieval/rerank.py` (`local_alignment`) and `retrieval/pitch_rerank.py` (`mutual_neighbours`)
state what is computed; here it is computed cell by cell in machine code instead of one torch
call per row of the matrix. A row of a few hundred cells is too short for torch's per-call
overhead to pay off: the batched torch loop spent ~35 ms on 32 candidates of 169 x 300 states
where this spends a few (benchmarks/README.md section 8), and the pitch stage aligns K such
matrices for every query. Both functions give what the torch code gave, cell for cell (float32
throughout, the same tie-breaking), which tests/retrieval/test_alignment_kernel.py checks
against a plain restatement.

Compiled on first use and cached beside this file (`cache=True`), so a process pays the
compilation once per install, not once per query.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["best_local_paths", "mutual_neighbour_matrix"]


@numba.njit(cache=True, nogil=True)
def best_local_paths(
    gain: np.ndarray, query_len: np.ndarray, ref_len: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The best local path through each `(B, Tq, Tr)` float32 `gain` matrix (a cell's gain to a
    path; cells at or beyond `query_len[b]`, `ref_len[b]` are never on one): its total gain
    `(B,)` float32, and its first and last cell `(B,)` int64 each (query_first, query_last,
    ref_first, ref_last). A path steps (1, 1), (2, 1) or (1, 2) (query, reference; on a tie the
    first of these is followed), never drops below 0 (it starts
    afresh where extending would not gain), and the best is the first cell of the highest total
    in row-major order ((0, 0) when no cell gains)."""
    n, tq_max, tr_max = gain.shape
    total = np.zeros(n, dtype=np.float32)
    query_first = np.zeros(n, dtype=np.int64)
    query_last = np.zeros(n, dtype=np.int64)
    ref_first = np.zeros(n, dtype=np.int64)
    ref_last = np.zeros(n, dtype=np.int64)
    zero = np.float32(0.0)
    for b in range(n):
        tq, tr = query_len[b], ref_len[b]
        # two zero rows and columns in front, so every step reads a cell
        score = np.zeros((tq + 2, tr + 2), dtype=np.float32)
        start_i = np.zeros((tq + 2, tr + 2), dtype=np.int64)
        start_j = np.zeros((tq + 2, tr + 2), dtype=np.int64)
        top, top_i, top_j = zero, 0, 0
        for i in range(tq):
            row = i + 2
            for j in range(tr):
                col = j + 2
                best = score[row - 1, col - 1]
                from_i, from_j = start_i[row - 1, col - 1], start_j[row - 1, col - 1]
                other = score[row - 2, col - 1]
                if other > best:
                    best = other
                    from_i, from_j = start_i[row - 2, col - 1], start_j[row - 2, col - 1]
                other = score[row - 1, col - 2]
                if other > best:
                    best = other
                    from_i, from_j = start_i[row - 1, col - 2], start_j[row - 1, col - 2]
                if best <= zero:  # no path worth extending: one starts here
                    best, from_i, from_j = zero, i, j
                value = best + gain[b, i, j]
                value = max(value, zero)
                score[row, col] = value
                start_i[row, col], start_j[row, col] = from_i, from_j
                if value > top:
                    top, top_i, top_j = value, i, j
        total[b] = top
        query_last[b], ref_last[b] = top_i, top_j
        query_first[b] = start_i[top_i + 2, top_j + 2]
        ref_first[b] = start_j[top_i + 2, top_j + 2]
    return total, query_first, query_last, ref_first, ref_last


@numba.njit(cache=True, nogil=True, inline="always")
def _keep_largest(kept: np.ndarray, row: int, value: np.float32) -> None:
    """Into `kept[row]` (ascending: the k largest values so far, `kept[row, 0]` the k-th),
    `value`, known to be larger than `kept[row, 0]`."""
    size = kept.shape[1]
    position = 0
    while position + 1 < size and kept[row, position + 1] < value:
        kept[row, position] = kept[row, position + 1]
        position += 1
    kept[row, position] = value


@numba.njit(cache=True, nogil=True)
def mutual_neighbour_matrix(sim: np.ndarray, ref_len: np.ndarray, kappa: float) -> np.ndarray:
    """`(B, Tq, Tr)` float32 similarities -> 1.0 where a cell is among the `int(kappa * Tr)`
    closest of its row and the `int(kappa * Tq)` closest of its column (at least one each;
    Tr and Tq the padded sizes, ties kept), else 0.0; a candidate's columns from `ref_len[b]`
    on are padding, never closest and never 1. One pass keeps each row's and each column's k
    largest (k is a few percent of a row: most values are passed over at one comparison)."""
    n, tq, tr = sim.shape
    k_row = max(1, int(kappa * tr))
    k_col = max(1, int(kappa * tq))
    out = np.zeros((n, tq, tr), dtype=np.float32)
    for b in range(n):
        valid = ref_len[b]
        # padding counts as -inf: a row of fewer than k valid cells keeps every one
        row_kept = np.full((tq, k_row), -np.inf, dtype=np.float32)
        col_kept = np.full((valid, k_col), -np.inf, dtype=np.float32)
        for i in range(tq):
            for j in range(valid):
                value = sim[b, i, j]
                if value > row_kept[i, 0]:
                    _keep_largest(row_kept, i, value)
                if value > col_kept[j, 0]:
                    _keep_largest(col_kept, j, value)
        for i in range(tq):
            for j in range(valid):
                value = sim[b, i, j]
                if value >= row_kept[i, 0] and value >= col_kept[j, 0]:
                    out[b, i, j] = 1.0
    return out
