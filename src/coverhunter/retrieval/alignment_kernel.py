"""The local alignment's inner loops, compiled (numba): the cost of the re-rank's pitch stage.

`retrieval/rerank.py` (`local_alignment`) and `retrieval/pitch_rerank.py` (`pitch_alignment`)
state what is computed; here it is computed cell by cell in machine code instead of one torch
call per row of the matrix. A row of a few hundred cells is too short for torch's per-call
overhead to pay off, and the pitch stage aligns K such matrices for every query.

Written so the compiler vectorises the row loops: a path steps (1, 1), (2, 1) or (1, 2), so a
cell reads only the two rows before its own, and every cell of a row can be computed at once
(selects, not branches); the row's best cell is then looked for in a second, separate loop.
The mutual-neighbour marks need each row's and each column's k-th largest similarity: a
histogram of the row's values finds the bin that holds it and a sort of that bin's few values
the value itself (two passes over the row, no heap; exact). tests/retrieval/test_alignment_kernel.py
checks every function against a plain restatement of its definition, ties included.

Compiled on first use and cached beside this file (`cache=True`), so a process pays the
compilation once per install, not once per query.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "best_local_paths",
    "kth_largest_of_columns",
    "kth_largest_of_rows",
    "marked_local_path",
    "stacked_similarities",
]

_TILE = 32  # rows and columns of a tile of the transposed copy (4 KB: in cache)
_BINS = 1024  # histogram bins over [-1, 1] (cosine similarities): a bin holds a few values,
# and clearing the counts for every row stays cheaper than a row of a short recording


@numba.njit(cache=True, nogil=True)
def best_local_paths(
    gain: np.ndarray, query_len: np.ndarray, ref_len: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The best local path through each `(B, Tq, Tr)` float32 `gain` matrix (a cell's gain to a
    path; cells at or beyond `query_len[b]`, `ref_len[b]` are never on one): its total gain
    `(B,)` float32, and its first and last cell `(B,)` int64 each (query_first, query_last,
    ref_first, ref_last). A path steps (1, 1), (2, 1) or (1, 2) (query, reference; on a tie the
    first of these is followed), never drops below 0 (it starts afresh where extending would
    not gain), and the best is the first cell of the highest total in row-major order ((0, 0)
    when no cell gains)."""
    n = gain.shape[0]
    total = np.zeros(n, dtype=np.float32)
    query_first = np.zeros(n, dtype=np.int64)
    query_last = np.zeros(n, dtype=np.int64)
    ref_first = np.zeros(n, dtype=np.int64)
    ref_last = np.zeros(n, dtype=np.int64)
    for b in range(n):
        tq, tr = query_len[b], ref_len[b]
        if tq < 1 or tr < 1:
            continue
        found = _best_path(np.ascontiguousarray(gain[b, :tq, :tr]))
        total[b], query_first[b], query_last[b], ref_first[b], ref_last[b] = found
    return total, query_first, query_last, ref_first, ref_last


@numba.njit(cache=True, nogil=True)
def marked_local_path(
    sim: np.ndarray, row_floor: np.ndarray, col_floor: np.ndarray, hit: float, miss: float
) -> tuple[np.float32, int, int, int, int]:
    """The best local path (as `best_local_paths`) through one `(Tq, Tr)` float32 similarity
    matrix binarised by mutual neighbours: a cell gains `hit` where its similarity is at least
    its row's `row_floor[i]` and its column's `col_floor[j]` (both k-th largest: the cell is
    among the closest of each), else `miss` (negative). Returns the total and the path's
    query_first, query_last, ref_first, ref_last."""
    tq, tr = sim.shape
    gain_row = np.empty(tr, dtype=np.float32)
    hit, miss = np.float32(hit), np.float32(miss)
    score, start = _path_tables(tr)
    top, top_cell, top_from = np.float32(0.0), 0, 0
    for i in range(tq):
        floor = row_floor[i]
        for j in range(tr):
            value = sim[i, j]
            gain_row[j] = hit if (value >= floor) & (value >= col_floor[j]) else miss
        here = _extend_row(i, gain_row, score, start)
        j = _row_top(score[here], tr, top)
        if j >= 0:
            top, top_cell, top_from = score[here, j + 2], i * tr + j, start[here, j + 2]
    return _path_ends(top, top_cell, top_from, tr)


@numba.njit(cache=True, nogil=True)
def stacked_similarities(
    frame_sim: np.ndarray,
    query_present: np.ndarray,
    ref_present: np.ndarray,
    stack: int,
    out: np.ndarray,
) -> None:
    """Into `out` `(Tq, Tr)`: the cosine similarities of `stack`-frame states (`pitch_rerank.
    stacked_states`: frames i.. of the query, j.. of the reference, each frame of unit length,
    the state scaled to unit length) from those of their frames, `frame_sim` `(Tq', Tr')`
    float32 (Tq = max(Tq' - stack + 1, 1)); `query_present` `(Tq',)`, `ref_present` `(Tr',)`
    1 for a non-zero frame, else 0. State (i, j)'s similarity is the sum of `stack` cells down
    the diagonal from (i, j) (frames past either end count 0) over the two states' lengths,
    sqrt(their non-zero frames): `stack` times fewer multiplications than the states' own
    product, and the loops over a row vectorised."""
    tq_frames, tr_frames = frame_sim.shape
    tq, tr = out.shape
    query_scale = _state_scales(query_present, stack, tq)
    ref_scale = _state_scales(ref_present, stack, tr)
    for i in range(tq):
        row = out[i]
        row[:] = 0.0
        for s in range(min(stack, tq_frames - i)):
            frames = frame_sim[i + s]
            for j in range(min(tr, tr_frames - s)):
                row[j] += frames[j + s]
        scale = query_scale[i]
        for j in range(tr):
            row[j] *= scale * ref_scale[j]


@numba.njit(cache=True, nogil=True, inline="always")
def _state_scales(present: np.ndarray, stack: int, states: int) -> np.ndarray:
    """`(states,)` 1 / sqrt(the non-zero frames of each state), 0 for a state of none."""
    scale = np.zeros(states, dtype=np.float32)
    for i in range(states):
        count = present[i : i + stack].sum()
        if count > 0:
            scale[i] = np.float32(1.0) / np.sqrt(np.float32(count))
    return scale


@numba.njit(cache=True, nogil=True)
def kth_largest_of_rows(values: np.ndarray, k: int) -> np.ndarray:
    """`(T, N)` float32 (cosine similarities, in [-1, 1]) -> `(T,)` the k-th largest value of
    each row (`np.sort(row)[-k]`; -inf when the row has fewer than k values). A histogram of
    the row over `_BINS` bins finds the bin holding it, a sort of that bin's values the value;
    values outside [-1, 1] fall in the end bins and are still ranked exactly."""
    rows, n = values.shape
    out = np.full(rows, -np.inf, dtype=np.float32)
    if k < 1 or k > n:
        return out
    counts = np.zeros(_BINS, dtype=np.int32)
    bins = np.empty(n, dtype=np.int32)
    held = np.empty(n, dtype=np.float32)
    for i in range(rows):
        out[i] = _kth_largest(values[i], k, counts, bins, held)
    return out


@numba.njit(cache=True, nogil=True)
def kth_largest_of_columns(values: np.ndarray, k: int, scratch: np.ndarray) -> np.ndarray:
    """`(T, N)` -> `(N,)` the k-th largest value of each column: `kth_largest_of_rows` of a
    transposed copy made in `scratch` (1-D float32, at least T * N values, written over), square
    tiles at a time. Copying costs less than reading the columns where they are (half the time
    of a 32-column strip copied at a time, which read every row for every strip)."""
    n, columns = values.shape
    if k < 1 or k > n:
        return np.full(columns, -np.inf, dtype=np.float32)
    transposed = scratch[: n * columns].reshape(columns, n)
    for first_row in range(0, n, _TILE):
        last_row = min(first_row + _TILE, n)
        for first in range(0, columns, _TILE):
            for c in range(first, min(first + _TILE, columns)):
                for i in range(first_row, last_row):
                    transposed[c, i] = values[i, c]
    return kth_largest_of_rows(transposed, k)


@numba.njit(cache=True, nogil=True, inline="always")
def _kth_largest(row: np.ndarray, k: int, counts: np.ndarray, bins: np.ndarray, held: np.ndarray):
    """The k-th largest of `row` (k <= its length), by `counts` (`_BINS` zeros, left zero),
    `bins` and `held` (scratch of the row's length)."""
    n = len(row)
    scale = np.float32(_BINS / 2)
    for j in range(n):  # every value's bin first: this loop is vectorised
        place = np.int32((row[j] + np.float32(1.0)) * scale)
        bins[j] = min(max(place, 0), _BINS - 1)
    for j in range(n):
        counts[bins[j]] += 1
    above, b = 0, _BINS - 1  # values in the bins above b
    while above + counts[b] < k:
        above += counts[b]
        b -= 1
    m = 0
    for j in range(n):
        if bins[j] == b:
            held[m] = row[j]
            m += 1
    counts[:] = 0  # one vectorised fill: faster than putting back the row's own bins
    chosen = held[:m]
    chosen.sort()  # in place: a few values, and no new array for every row
    return chosen[m - (k - above)]


@numba.njit(cache=True, nogil=True)
def _best_path(gain: np.ndarray) -> tuple[np.float32, int, int, int, int]:
    """`best_local_paths` of one `(Tq, Tr)` gain matrix."""
    tq, tr = gain.shape
    score, start = _path_tables(tr)
    top, top_cell, top_from = np.float32(0.0), 0, 0
    for i in range(tq):
        here = _extend_row(i, gain[i], score, start)
        j = _row_top(score[here], tr, top)
        if j >= 0:
            top, top_cell, top_from = score[here, j + 2], i * tr + j, start[here, j + 2]
    return _path_ends(top, top_cell, top_from, tr)


@numba.njit(cache=True, nogil=True, inline="always")
def _path_tables(tr: int) -> tuple[np.ndarray, np.ndarray]:
    """Three rows of path totals and of where each path starts (cell i * Tr + j), kept in turn
    (row i in i % 3: a cell reads only the two rows before it), each with two zero columns in
    front so every step reads a cell; the rows before the first are zeros."""
    return np.zeros((3, tr + 2), dtype=np.float32), np.zeros((3, tr + 2), dtype=np.int64)


@numba.njit(cache=True, nogil=True, inline="always")
def _extend_row(i: int, gain_row: np.ndarray, score: np.ndarray, start: np.ndarray) -> int:
    """Row i of the path tables from rows i - 1 and i - 2: each cell extends the best of its
    (1, 1), (2, 1), (1, 2) predecessors (the first on a tie) or starts afresh where none is
    above 0, and never drops below 0. No cell of the row reads another, so the loop is
    vectorised. Returns the row's slot in the tables."""
    here, up, up2 = i % 3, (i + 2) % 3, (i + 1) % 3
    zero = np.float32(0.0)
    s_up, s_up2, s_here = score[up], score[up2], score[here]
    f_up, f_up2, f_here = start[up], start[up2], start[here]
    width = len(gain_row)
    base = i * width
    for j in range(width):
        best, first = s_up[j + 1], f_up[j + 1]  # (1, 1)
        other, other_first = s_up2[j + 1], f_up2[j + 1]  # (2, 1)
        last, last_first = s_up[j], f_up[j]  # (1, 2)
        first = other_first if other > best else first
        best = other if other > best else best
        first = last_first if last > best else first
        best = last if last > best else best
        first = base + j if best <= zero else first
        best = zero if best <= zero else best
        value = best + gain_row[j]
        s_here[j + 2] = value if value > zero else zero
        f_here[j + 2] = first
    return here


@numba.njit(cache=True, nogil=True, inline="always")
def _row_top(score_row: np.ndarray, tr: int, top: np.float32) -> int:
    """The first cell of the row whose total is its highest, where that is above `top`; -1
    where none is (a max first, vectorised; the place only when it is needed)."""
    best = np.float32(0.0)
    for j in range(tr):
        best = max(best, score_row[j + 2])
    if best > top:
        for j in range(tr):
            if score_row[j + 2] == best:
                return j
    return -1


@numba.njit(cache=True, nogil=True, inline="always")
def _path_ends(top, top_cell: int, top_from: int, tr: int) -> tuple[np.float32, int, int, int, int]:
    """The total and query_first, query_last, ref_first, ref_last of the best path."""
    return top, top_from // tr, top_cell // tr, top_from % tr, top_cell % tr
