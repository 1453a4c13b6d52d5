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
    # A cell reads only the two rows before it: three rows kept, in turn (row r in r % 3), so
    # the tables stay in cache whatever the recordings' length; each with two zero columns in
    # front, so every step reads a cell. The rows before the first are zeros.
    score = np.zeros((3, tr_max + 2), dtype=np.float32)
    start_i = np.zeros((3, tr_max + 2), dtype=np.int64)
    start_j = np.zeros((3, tr_max + 2), dtype=np.int64)
    for b in range(n):
        tq, tr = query_len[b], ref_len[b]
        score[:] = zero
        top, top_i, top_j, top_from_i, top_from_j = zero, 0, 0, 0, 0
        for i in range(tq):
            here, up, up2 = i % 3, (i + 2) % 3, (i + 1) % 3  # rows i, i - 1, i - 2
            for j in range(tr):
                col = j + 2
                best = score[up, col - 1]
                from_i, from_j = start_i[up, col - 1], start_j[up, col - 1]
                other = score[up2, col - 1]
                if other > best:
                    best = other
                    from_i, from_j = start_i[up2, col - 1], start_j[up2, col - 1]
                other = score[up, col - 2]
                if other > best:
                    best = other
                    from_i, from_j = start_i[up, col - 2], start_j[up, col - 2]
                if best <= zero:  # no path worth extending: one starts here
                    best, from_i, from_j = zero, i, j
                value = best + gain[b, i, j]
                value = max(value, zero)
                score[here, col] = value
                start_i[here, col], start_j[here, col] = from_i, from_j
                if value > top:
                    top, top_i, top_j, top_from_i, top_from_j = value, i, j, from_i, from_j
        total[b] = top
        query_last[b], ref_last[b] = top_i, top_j
        query_first[b], ref_first[b] = top_from_i, top_from_j
    return total, query_first, query_last, ref_first, ref_last


@numba.njit(cache=True, nogil=True, inline="always")
def _keep_largest(kept: np.ndarray, row: int, value: np.float32) -> np.float32:
    """Into `kept[row]` (a min-heap of the k largest values so far: `kept[row, 0]` the k-th),
    `value`, known to be larger than `kept[row, 0]`, in place of the k-th; returns the new k-th."""
    size = kept.shape[1]
    position = 0
    while True:  # sift the new value down to its place
        child = 2 * position + 1
        if child >= size:
            break
        if child + 1 < size and kept[row, child + 1] < kept[row, child]:
            child += 1
        if kept[row, child] >= value:
            break
        kept[row, position] = kept[row, child]
        position = child
    kept[row, position] = value
    return kept[row, 0]


@numba.njit(cache=True, nogil=True)
def mutual_neighbour_matrix(sim: np.ndarray, ref_len: np.ndarray, kappa: float) -> np.ndarray:
    """`(B, Tq, Tr)` float32 similarities -> 1.0 where a cell is among the `int(kappa * Tr)`
    closest of its row and the `int(kappa * Tq)` closest of its column (at least one each;
    Tr and Tq the padded sizes, ties kept), else 0.0; a candidate's columns from `ref_len[b]`
    on are padding, never closest and never 1. One pass keeps each row's and each column's k
    largest in a heap, and each one's k-th in an array of its own (most values are passed over
    at one comparison with it, read from cache)."""
    n, tq, tr = sim.shape
    k_row = max(1, int(kappa * tr))
    k_col = max(1, int(kappa * tq))
    out = np.zeros((n, tq, tr), dtype=np.float32)
    for b in range(n):
        valid = ref_len[b]
        # padding counts as -inf: a row of fewer than k valid cells keeps every one
        row_kept = np.full((tq, k_row), -np.inf, dtype=np.float32)
        col_kept = np.full((valid, k_col), -np.inf, dtype=np.float32)
        row_floor = np.full(tq, -np.inf, dtype=np.float32)
        col_floor = np.full(valid, -np.inf, dtype=np.float32)
        for i in range(tq):
            for j in range(valid):
                value = sim[b, i, j]
                if value > row_floor[i]:
                    row_floor[i] = _keep_largest(row_kept, i, value)
                if value > col_floor[j]:
                    col_floor[j] = _keep_largest(col_kept, j, value)
        for i in range(tq):
            for j in range(valid):
                value = sim[b, i, j]
                if value >= row_floor[i] and value >= col_floor[j]:
                    out[b, i, j] = 1.0
    return out
