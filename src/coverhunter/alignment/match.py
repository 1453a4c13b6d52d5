"""Chunk matching between the versions of one work and the offset mode (paper section II-D).

For two performances a and b with unit chunk embeddings on the same chunk hop, every chunk pair
`(i, j)` whose cosine similarity exceeds the threshold is a match with offset `delta = j - i`.
The offset `Delta` of the pair is the mode of those offsets, and the matches at `Delta` are its
aligned chunk pairs. Where the authors' aligner goes wrong and this one does not:

- offset 0 is a candidate like any other (theirs skips `i == j`, so an unshifted copy never
  aligns at 0);
- a tie for the mode goes to the offset whose matches have the larger summed similarity, then to
  the smaller `|delta|`, then to the negative one, so the answer never depends on loop order;
- ids are only compared for equality (theirs finds chunks by substring: "12" hit "112").

A pair whose mode has fewer than `min_matches` matches is reported as unaligned, never forced.

All pairs of a work go through one batched matrix product over the padded chunk sets, and the
offset histogram is one `scatter_add` over (pair, offset): no Python loop over chunks. Cost grows
with the square of the versions of a work, never with the size of the collection.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

logger = logging.getLogger(__name__)

NORM_ATOL = 1e-3
_PAIR_DTYPES = {
    "perf_a": object,
    "perf_b": object,
    "delta": np.int64,
    "n_candidates": np.int64,
    "n_matches": np.int64,
    "similarity": np.float64,
    "first_idx_a": np.int64,
    "first_idx_b": np.int64,
    "aligned": bool,
}
_CHUNK_DTYPES = {
    "perf_a": object,
    "perf_b": object,
    "idx_a": np.int64,
    "idx_b": np.int64,
    "similarity": np.float64,
}
PAIR_COLUMNS = tuple(_PAIR_DTYPES)
CHUNK_PAIR_COLUMNS = tuple(_CHUNK_DTYPES)


@dataclass(frozen=True)
class WorkAlignment:
    """The alignment of every pair `(perf_a, perf_b)`, `perf_a` before `perf_b`, of one work.

    `pairs` has one row per pair (columns `PAIR_COLUMNS`): `delta` = idx_b - idx_a at the mode
    (0 when there is no match at all), `n_candidates` matches at any offset, `n_matches` at
    `delta`, `similarity` their mean (NaN when none), `first_idx_a`/`first_idx_b` the first
    aligned chunk pair (-1 when unaligned), `aligned` whether `n_matches >= min_matches`.
    `chunk_pairs` lists the aligned chunk pairs of aligned pairs (columns `CHUNK_PAIR_COLUMNS`).
    """

    pairs: pd.DataFrame
    chunk_pairs: pd.DataFrame


def _pad(chunk_embeddings: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack `(N_i, D)` sets into `(V, N, D)` zeros-padded plus the `(V, N)` mask of real rows."""
    sets = [torch.as_tensor(x).float() for x in chunk_embeddings]
    for v, x in enumerate(sets):
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"version {v} must be a non-empty (N, D) set, got {tuple(x.shape)}")
        if x.shape[1] != sets[0].shape[1]:
            raise ValueError(f"version {v} has D={x.shape[1]}, version 0 has D={sets[0].shape[1]}")
        off = (torch.linalg.vector_norm(x, dim=1) - 1.0).abs().max().item()
        if not off <= NORM_ATOL:
            raise ValueError(
                f"version {v} chunk embeddings must be L2-normalised (off by {off:.3g})"
            )
    n_max = max(x.shape[0] for x in sets)
    padded = torch.zeros(len(sets), n_max, sets[0].shape[1])
    mask = torch.zeros(len(sets), n_max, dtype=torch.bool)
    for v, x in enumerate(sets):
        padded[v, : x.shape[0]] = x
        mask[v, : x.shape[0]] = True
    return padded, mask


class OffsetModes(NamedTuple):
    """Mode offsets of `P` pairs (see `mode_offsets`); every field has a leading `P` axis."""

    delta: torch.Tensor  # (P,) long, idx_b - idx_a at the mode; 0 when there is no match
    n_candidates: torch.Tensor  # (P,) long, matches at any offset
    n_matches: torch.Tensor  # (P,) long, matches at delta
    similarity: torch.Tensor  # (P,) float64, mean similarity of those (0 when none)
    at_mode: torch.Tensor  # (P, Na, Nb) bool, the matches at delta


def _mode_bins(counts: torch.Tensor, sim_sum: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """Per row of `(P, bins)` histograms, the bin with the most matches, then the largest summed
    similarity, then the smallest `key` (`(bins,)`, unique per bin)."""
    best = counts == counts.max(1, keepdim=True).values
    sim = torch.where(best, sim_sum, -torch.inf)
    best &= sim == sim.max(1, keepdim=True).values
    return torch.where(best, key[None, :], torch.iinfo(torch.long).max).argmin(1)


def mode_offsets(sim: torch.Tensor, valid: torch.Tensor, threshold: float) -> OffsetModes:
    """The offset mode of each chunk-similarity matrix `sim (P, Na, Nb)` (`[pair, idx_a, idx_b]`).

    `valid (P, Na, Nb)` masks out padded chunks. A match is `sim > threshold` where valid; its
    offset is `idx_b - idx_a`. The histogram over (pair, offset) is one `scatter_add`.
    """
    assert sim.ndim == 3 and valid.shape == sim.shape, f"sim {sim.shape}, valid {valid.shape}"
    n_pairs, n_a, n_b = sim.shape
    match = (sim > threshold) & valid
    offset_bin = (torch.arange(n_b)[None, :] - torch.arange(n_a)[:, None]) + (n_a - 1)  # (Na, Nb)
    flat_bin = offset_bin.reshape(1, -1).expand(n_pairs, -1)
    n_bins = n_a + n_b - 1
    counts = torch.zeros(n_pairs, n_bins, dtype=torch.long)
    counts.scatter_add_(1, flat_bin, match.reshape(n_pairs, -1).long())
    sim_sum = torch.zeros(n_pairs, n_bins, dtype=torch.float64)
    sim_sum.scatter_add_(1, flat_bin, torch.where(match, sim, 0.0).reshape(n_pairs, -1).double())
    delta_of_bin = torch.arange(n_bins) - (n_a - 1)
    # Smaller |delta| first, negative before positive at equal |delta|: one unique key per bin.
    key = 2 * delta_of_bin.abs() + (delta_of_bin > 0).long()
    best = _mode_bins(counts, sim_sum, key)  # (P,)
    n_matches = counts.gather(1, best[:, None])[:, 0]
    return OffsetModes(
        delta=delta_of_bin[best],
        n_candidates=match.sum((1, 2)),
        n_matches=n_matches,
        similarity=sim_sum.gather(1, best[:, None])[:, 0] / n_matches.clamp(min=1),
        at_mode=match & (offset_bin[None] == best[:, None, None]),
    )


def align_work(
    chunk_embeddings: Sequence[torch.Tensor | np.ndarray],
    perf_ids: Sequence[str],
    threshold: float = 0.9,
    min_matches: int = 1,
    max_elements: int = 2**24,
) -> WorkAlignment:
    """Align every pair of versions of one work.

    Args:
        chunk_embeddings: per version, `(N_i, D)` unit chunk embeddings; row = chunk index on the
            shared chunk hop.
        perf_ids: `(V,)` the versions' performance ids (str), in the same order.
        threshold: a chunk pair matches when its cosine similarity is larger than this.
        min_matches: fewest matches at the mode for a pair to count as aligned (at least 1).
        max_elements: bound on the `(block, N, V, N)` similarities of one matrix product; a
            work small enough is done in one product, a larger one in blocks of versions.
    """
    if len(chunk_embeddings) != len(perf_ids):
        raise ValueError(f"{len(chunk_embeddings)} chunk sets for {len(perf_ids)} perf_ids")
    if len(set(perf_ids)) != len(perf_ids):
        raise ValueError(f"perf_ids repeat within a work: {list(perf_ids)}")
    if min_matches < 1:
        raise ValueError(f"min_matches must be at least 1, got {min_matches}")
    if len(perf_ids) < 2:
        return _empty_alignment()
    padded, mask = _pad(chunk_embeddings)
    n_versions, n = padded.shape[:2]
    flat = padded.reshape(n_versions * n, -1)  # (V*N, D)
    # Versions of a go in blocks; one product gives a block's similarities to all versions.
    block = max(1, max_elements // (n * n_versions * n))
    rows, chunk_rows = [], []
    for a0 in range(0, n_versions - 1, block):
        a1 = min(a0 + block, n_versions - 1)
        sim_block = (flat[a0 * n : a1 * n] @ flat.T).reshape(a1 - a0, n, n_versions, n)
        pa, pb = torch.triu_indices(a1, n_versions, offset=1)  # pairs a < b ...
        keep = pa >= a0  # ... with a in this block
        pa, pb = pa[keep], pb[keep]
        sim = sim_block[pa - a0, :, pb, :]  # (p, N, N): [pair, i in a, j in b]
        valid = mask[pa][:, :, None] & mask[pb][:, None, :]
        delta, n_cand, n_match, sim_mean, at_mode = mode_offsets(sim, valid, threshold)
        aligned = n_match >= min_matches
        at_mode &= aligned[:, None, None]
        first_a = torch.where(aligned, at_mode.any(2).long().argmax(1), -1)
        rows.append((pa, pb, delta, n_cand, n_match, sim_mean, first_a, aligned))
        p, i, j = at_mode.nonzero(as_tuple=True)  # row-major: by pair, then idx_a
        chunk_rows.append((pa[p], pb[p], i, j, sim[p, i, j]))
    pa, pb, delta, n_cand, n_match, sim_mean, first_a, aligned = (
        torch.cat(c) for c in zip(*rows, strict=True)
    )
    ids = np.asarray(perf_ids, dtype=object)
    table = pd.DataFrame(
        {
            "perf_a": ids[pa.numpy()],
            "perf_b": ids[pb.numpy()],
            "delta": delta.numpy().astype(np.int64),
            "n_candidates": n_cand.numpy().astype(np.int64),
            "n_matches": n_match.numpy().astype(np.int64),
            "similarity": np.where(n_match.numpy() > 0, sim_mean.numpy(), np.nan),
            "first_idx_a": first_a.numpy().astype(np.int64),
            "first_idx_b": np.where(aligned.numpy(), (first_a + delta).numpy(), -1),
            "aligned": aligned.numpy(),
        }
    )
    cpa, cpb, ci, cj, cs = (torch.cat(c) for c in zip(*chunk_rows, strict=True))
    chunk_pairs = pd.DataFrame(
        {
            "perf_a": ids[cpa.numpy()],
            "perf_b": ids[cpb.numpy()],
            "idx_a": ci.numpy().astype(np.int64),
            "idx_b": cj.numpy().astype(np.int64),
            "similarity": cs.double().numpy(),
        }
    )
    return WorkAlignment(pairs=table, chunk_pairs=chunk_pairs)


def align_pair(
    a: torch.Tensor | np.ndarray,
    b: torch.Tensor | np.ndarray,
    threshold: float = 0.9,
    min_matches: int = 1,
) -> WorkAlignment:
    """`align_work` of the two performances `a (Na, D)` and `b (Nb, D)`, named "a" and "b"."""
    return align_work([a, b], ["a", "b"], threshold=threshold, min_matches=min_matches)


def _empty_alignment() -> WorkAlignment:
    pairs = pd.DataFrame({c: pd.Series(dtype=_PAIR_DTYPES[c]) for c in PAIR_COLUMNS})
    chunks = pd.DataFrame({c: pd.Series(dtype=_CHUNK_DTYPES[c]) for c in CHUNK_PAIR_COLUMNS})
    return WorkAlignment(pairs=pairs, chunk_pairs=chunks)


def _check_string_column(table: pd.DataFrame, column: str) -> None:
    values = table[column]
    if not values.map(lambda v: isinstance(v, str)).all():
        raise ValueError(
            f"chunk_table column {column!r} must hold strings (ids compare by equality)"
        )


def align_collection(
    chunk_table: pd.DataFrame,
    embeddings: torch.Tensor | np.ndarray,
    threshold: float = 0.9,
    min_matches: int = 1,
    max_elements: int = 2**24,
) -> pd.DataFrame:
    """Align the versions of every work of a collection, one work at a time.

    Args:
        chunk_table: one row per chunk with `perf_id` (str), `work_id` (str) and `chunk_idx`
            (0, 1, ... per performance on the chunk hop); row `k` describes `embeddings[k]`.
        embeddings: `(N, D)` unit chunk embeddings.

    Returns:
        One row per pair of versions of a work: `work_id` then `PAIR_COLUMNS` (see
        `WorkAlignment`), works and performances in sorted id order.
    """
    missing = {"perf_id", "work_id", "chunk_idx"} - set(chunk_table.columns)
    if missing:
        raise ValueError(f"chunk_table lacks columns {sorted(missing)}")
    emb = torch.as_tensor(embeddings).float()
    assert emb.ndim == 2, f"embeddings must be (N, D), got {tuple(emb.shape)}"
    if emb.shape[0] != len(chunk_table):
        raise ValueError(f"{emb.shape[0]} embeddings for {len(chunk_table)} chunk_table rows")
    _check_string_column(chunk_table, "perf_id")
    _check_string_column(chunk_table, "work_id")
    table = chunk_table[["perf_id", "work_id", "chunk_idx"]].reset_index(drop=True)
    works_per_perf = table.groupby("perf_id")["work_id"].nunique()
    if (works_per_perf > 1).any():
        raise ValueError(
            f"performances listed under several works: {works_per_perf[works_per_perf > 1].index[:10].tolist()}"
        )
    table = table.assign(row=np.arange(len(table))).sort_values(
        ["work_id", "perf_id", "chunk_idx"], kind="stable"
    )
    results = []
    for n_done, (work_id, work) in enumerate(table.groupby("work_id", sort=True)):
        perf_ids, sets = [], []
        for perf_id, chunks in work.groupby("perf_id", sort=True):
            if not np.array_equal(chunks["chunk_idx"].to_numpy(), np.arange(len(chunks))):
                raise ValueError(
                    f"chunk_idx of performance {perf_id!r} is not 0..{len(chunks) - 1}"
                )
            perf_ids.append(perf_id)
            sets.append(emb[torch.tensor(chunks["row"].to_numpy())])
        pairs = align_work(sets, perf_ids, threshold, min_matches, max_elements).pairs
        results.append(pairs.assign(work_id=work_id))
        if (n_done + 1) % 1000 == 0:
            logger.info("aligned the versions of %d works", n_done + 1)
    if not results:
        results = [_empty_alignment().pairs.assign(work_id=pd.Series(dtype=object))]
    out = pd.concat(results, ignore_index=True)
    return out[["work_id", *PAIR_COLUMNS]]
