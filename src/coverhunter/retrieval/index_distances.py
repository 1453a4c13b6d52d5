"""Track distances read from a faiss index: the product's search path, as a query x reference matrix.

The evaluation scores the fine model through the same `search_tracks` a user's query takes, then
arranges the hits as the `(Q, R)` matrix the MIREX metrics read. With a flat index and every
chunk fetched (`k_chunks=None`) the matrix equals `distances.track_distances` on the same chunks;
with fewer chunks or an approximate index, a pair of tracks no fetched chunk links stays `+inf`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from coverhunter.retrieval.index import ChunkIndex, search_tracks


@dataclass(frozen=True)
class IndexDistances:
    """Query x reference results of an index search; `-1` / `+inf` where no chunk pair was found."""

    distances: torch.Tensor  # (Q, R) float32, min cosine distance over the fetched chunk pairs
    query_chunk: np.ndarray  # (Q, R) int64, row of the query chunk of the best pair
    gallery_chunk: np.ndarray  # (Q, R) int64, row of the index of the best pair


def index_track_distances(
    chunk_index: ChunkIndex,
    query_chunks: np.ndarray | torch.Tensor,
    query_track_ids: np.ndarray | torch.Tensor,
    n_queries: int,
    ref_perf_ids: Sequence[str],
    k_chunks: int | None = None,
    batch_tracks: int = 256,
) -> IndexDistances:
    """Distances `(Q, R)` from every query track to the references `ref_perf_ids` in the index.

    Args:
        query_chunks: `(Nq, D)` unit chunk embeddings of the query tracks.
        query_track_ids: `(Nq,)` query track index in `[0, n_queries)` of each chunk.
        ref_perf_ids: `(R,)` performances of the index to report, in column order; hits on
            other performances of the index are ignored.
        k_chunks: nearest index chunks fetched per query chunk; `None` fetches all (exact with
            a flat index; memory is `batch_tracks` queries' chunks x the index's chunks).
        batch_tracks: query tracks searched per faiss call.
    """
    q_track = np.asarray(torch.as_tensor(query_track_ids).cpu().numpy(), dtype=np.int64)
    assert q_track.ndim == 1, f"query_track_ids must be (Nq,), got {q_track.shape}"
    queries = torch.as_tensor(query_chunks)
    assert queries.ndim == 2, f"query_chunks must be (Nq, D), got {tuple(queries.shape)}"
    if q_track.shape[0] != queries.shape[0]:
        raise ValueError(f"{q_track.shape[0]} query_track_ids for {queries.shape[0]} query chunks")
    if q_track.size and (q_track.min() < 0 or q_track.max() >= n_queries):
        raise ValueError(f"query_track_ids must lie in [0, {n_queries})")
    if batch_tracks < 1:
        raise ValueError(f"batch_tracks must be at least 1, got {batch_tracks}")
    if k_chunks is not None and k_chunks < 1:
        raise ValueError(f"k_chunks must be at least 1 or None, got {k_chunks}")
    column = {perf_id: j for j, perf_id in enumerate(ref_perf_ids)}
    if len(column) != len(ref_perf_ids):
        raise ValueError("ref_perf_ids holds duplicates")
    n_refs = len(ref_perf_ids)
    distances = np.full((n_queries, n_refs), np.inf, dtype=np.float32)
    query_chunk = np.full((n_queries, n_refs), -1, dtype=np.int64)
    gallery_chunk = np.full((n_queries, n_refs), -1, dtype=np.int64)
    k = chunk_index.n_chunks if k_chunks is None else k_chunks
    k_tracks = max(1, int(np.unique(chunk_index.chunk_perf_ids).size))
    for lo in range(0, n_queries, batch_tracks):
        rows = np.flatnonzero((q_track >= lo) & (q_track < lo + batch_tracks))
        if rows.size == 0:
            continue
        hits = search_tracks(chunk_index, queries[rows], k_tracks, k, q_track[rows] - lo)
        for offset, hit in enumerate(hits):
            cols = np.array([column.get(p, -1) for p in hit.perf_ids], dtype=np.int64)
            keep = cols >= 0
            q = lo + offset
            distances[q, cols[keep]] = hit.distances[keep]
            query_chunk[q, cols[keep]] = rows[hit.query_chunk[keep]]
            gallery_chunk[q, cols[keep]] = hit.gallery_chunk[keep]
    return IndexDistances(torch.from_numpy(distances), query_chunk, gallery_chunk)
