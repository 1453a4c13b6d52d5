"""A faiss index over L2-normalised chunk embeddings, searched at track level.

On unit vectors the inner product is the cosine similarity, so every index type here uses the
inner-product metric and a hit's cosine distance is `1 - score`. The index type is a parameter:

- `"flat"`: `IndexFlatIP`, exact; the reference the others are measured against.
- `"hnsw"`: `IndexHNSWFlat` (graph search, no training); `hnsw_m` links per node, `ef_search`
  candidates kept while searching (higher: slower, closer to exact).
- `"ivfpq"`: `IndexIVFPQ` trained on the gallery; `nlist` coarse cells, vectors compressed to
  `pq_m` codes of `nbits` bits, `nprobe` cells visited per query.

A `ChunkIndex` keeps, beside the faiss index, which performance each vector belongs to and where
its chunk starts, so a search can answer "which works, and where does the match lie".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import torch

from coverhunter.retrieval.distances import check_unit_norm

logger = logging.getLogger(__name__)

INDEX_TYPES = ("flat", "hnsw", "ivfpq")


def _as_float32_matrix(x: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    """`(N, D)` float32 C-contiguous numpy copy of a tensor or array (what faiss accepts), its
    rows checked for unit norm as every cosine path checks them (`check_unit_norm`)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().float().numpy()
    x = np.ascontiguousarray(x, dtype=np.float32)
    assert x.ndim == 2, f"{name} must be (N, D), got shape {x.shape}"
    check_unit_norm(torch.from_numpy(x), name)
    return x


def _as_perf_ids(ids: np.ndarray | list[str], n: int) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.shape != (n,):
        raise ValueError(f"chunk_perf_ids must have shape ({n},), got {ids.shape}")
    # Ids are compared by equality only; a number would silently become its decimal string.
    if ids.dtype.kind != "U" and not all(isinstance(i, str) for i in ids.tolist()):
        raise ValueError(f"chunk_perf_ids must be strings, got dtype {ids.dtype}")
    return ids.astype(str)


def _as_starts(starts: np.ndarray | list[float], n: int) -> np.ndarray:
    starts = np.asarray(starts, dtype=np.float64)
    if starts.shape != (n,):
        raise ValueError(f"chunk_starts_s must have shape ({n},), got {starts.shape}")
    return starts


@dataclass
class ChunkIndex:
    """A faiss index plus its chunk -> performance map.

    Row `i` of the faiss index is the chunk of `chunk_perf_ids[i]` starting at `chunk_starts_s[i]`.
    """

    index: faiss.Index
    chunk_perf_ids: np.ndarray  # (N,) str
    chunk_starts_s: np.ndarray  # (N,) float64, seconds

    def __post_init__(self) -> None:
        n = int(self.index.ntotal)
        self.chunk_perf_ids = _as_perf_ids(self.chunk_perf_ids, n)
        self.chunk_starts_s = _as_starts(self.chunk_starts_s, n)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @property
    def n_chunks(self) -> int:
        return int(self.index.ntotal)


def ivfpq_min_train_size(nlist: int, nbits: int) -> int:
    """Fewest vectors faiss accepts to train IVF-PQ: one per coarse cell and per PQ centroid."""
    return max(nlist, 2**nbits)


def _new_index(
    vectors: np.ndarray,
    index_type: str,
    hnsw_m: int,
    ef_construction: int,
    ef_search: int,
    nlist: int,
    pq_m: int,
    nbits: int,
    nprobe: int,
) -> faiss.Index:
    dim = vectors.shape[1]
    if index_type == "flat":
        return faiss.IndexFlatIP(dim)
    if index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
        return index
    if dim % pq_m:
        raise ValueError(f"pq_m={pq_m} must divide the embedding size {dim}")
    needed = ivfpq_min_train_size(nlist, nbits)
    if vectors.shape[0] < needed:
        raise ValueError(
            f"ivfpq with nlist={nlist}, nbits={nbits} needs at least {needed} gallery chunks "
            f"to train, got {vectors.shape[0]}; lower nlist/nbits or use index_type 'flat'"
        )
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFPQ(quantizer, dim, nlist, pq_m, nbits, faiss.METRIC_INNER_PRODUCT)
    index.train(vectors)
    index.nprobe = nprobe
    return index


def build_index(
    chunks: np.ndarray | torch.Tensor,
    chunk_perf_ids: np.ndarray | list[str],
    chunk_starts_s: np.ndarray | list[float],
    index_type: str = "flat",
    *,
    hnsw_m: int = 32,
    ef_construction: int = 40,
    ef_search: int = 64,
    nlist: int = 1024,
    pq_m: int = 16,
    nbits: int = 8,
    nprobe: int = 16,
) -> ChunkIndex:
    """Index `chunks (N, D)` (unit rows) of type `index_type` (see the module docstring).

    `chunk_perf_ids (N,)` and `chunk_starts_s (N,)` say whose chunk each row is and where it
    starts. IVF-PQ is trained on these same chunks; a `ValueError` names the minimum count when
    there are too few.
    """
    if index_type not in INDEX_TYPES:
        raise ValueError(f"index_type must be one of {INDEX_TYPES}, got {index_type!r}")
    vectors = _as_float32_matrix(chunks, "chunks")
    index = _new_index(
        vectors, index_type, hnsw_m, ef_construction, ef_search, nlist, pq_m, nbits, nprobe
    )
    perf_ids = _as_perf_ids(chunk_perf_ids, vectors.shape[0])
    starts = _as_starts(chunk_starts_s, vectors.shape[0])
    index.add(vectors)
    logger.info("built a %s index of %d chunks, dim %d", index_type, index.ntotal, index.d)
    return ChunkIndex(index=index, chunk_perf_ids=perf_ids, chunk_starts_s=starts)


def add(
    chunk_index: ChunkIndex,
    new_chunks: np.ndarray | torch.Tensor,
    chunk_perf_ids: np.ndarray | list[str],
    chunk_starts_s: np.ndarray | list[float],
) -> ChunkIndex:
    """Append the chunks of new performances; old vectors and their rows are left as they are.

    The faiss index is extended in place (IVF-PQ reuses its trained cells and codebooks) and the
    returned `ChunkIndex` shares it. A performance already in the index is a `ValueError`: its
    chunks would otherwise be split across two unrelated batches.
    """
    vectors = _as_float32_matrix(new_chunks, "new_chunks")
    if vectors.shape[1] != chunk_index.dim:
        raise ValueError(f"new_chunks have D={vectors.shape[1]}, the index has D={chunk_index.dim}")
    perf_ids = _as_perf_ids(chunk_perf_ids, vectors.shape[0])
    starts = _as_starts(chunk_starts_s, vectors.shape[0])
    present = np.intersect1d(np.unique(perf_ids), chunk_index.chunk_perf_ids)
    if present.size:
        raise ValueError(f"performances already in the index: {present[:10].tolist()}")
    chunk_index.index.add(vectors)
    return ChunkIndex(
        index=chunk_index.index,
        chunk_perf_ids=np.concatenate([chunk_index.chunk_perf_ids, perf_ids]),
        chunk_starts_s=np.concatenate([chunk_index.chunk_starts_s, starts]),
    )


@dataclass(frozen=True)
class TrackHits:
    """The best gallery performances for one query track, nearest first (length <= k_tracks).

    `query_chunk[i]` (row of the query's chunks) and `gallery_chunk[i]` (row of the index) are the
    closest chunk pair between the query and `perf_ids[i]`; `gallery_start_s[i]` is where that
    gallery chunk starts.
    """

    perf_ids: np.ndarray  # (k,) str
    distances: np.ndarray  # (k,) float32, cosine distance of the best chunk pair
    query_chunk: np.ndarray  # (k,) int64
    gallery_chunk: np.ndarray  # (k,) int64
    gallery_start_s: np.ndarray  # (k,) float64


def search_tracks(
    chunk_index: ChunkIndex,
    query_chunks: np.ndarray | torch.Tensor,
    k_tracks: int,
    k_chunks: int,
    query_track_ids: np.ndarray | torch.Tensor | None = None,
) -> list[TrackHits]:
    """Top `k_tracks` gallery performances per query track, ranked by min chunk-pair distance.

    Args:
        query_chunks: `(Nq, D)` unit chunk embeddings of one or more query tracks.
        k_tracks: performances returned per query track.
        k_chunks: nearest gallery chunks fetched per query chunk. A performance's distance is
            exact when its best chunk pair is among those (always, with `k_chunks >= N` and a
            flat index); raise it when a few performances own many near chunks.
        query_track_ids: `(Nq,)` track index in `[0, Q)` of each query chunk; `None` means all
            chunks belong to one query track.

    Returns:
        `Q` `TrackHits`, one per query track index. Ties in distance go to the smaller
        `perf_id`, then the earlier chunk pair, so results do not depend on faiss's order.
    """
    if k_tracks < 1 or k_chunks < 1:
        raise ValueError(f"k_tracks and k_chunks must be at least 1, got {k_tracks}, {k_chunks}")
    queries = _as_float32_matrix(query_chunks, "query_chunks")
    if queries.shape[1] != chunk_index.dim:
        raise ValueError(
            f"query_chunks have D={queries.shape[1]}, the index has D={chunk_index.dim}"
        )
    n_q = queries.shape[0]
    if query_track_ids is None:
        q_track = np.zeros(n_q, dtype=np.int64)
    else:
        q_track = np.asarray(torch.as_tensor(query_track_ids).cpu().numpy(), dtype=np.int64)
        if q_track.shape != (n_q,) or (n_q and q_track.min() < 0):
            raise ValueError(f"query_track_ids must be ({n_q},) non-negative, got {q_track.shape}")
    n_tracks = int(q_track.max()) + 1 if n_q else 0

    k = min(k_chunks, chunk_index.n_chunks)
    if k == 0 or n_q == 0:
        return [_empty_hits() for _ in range(n_tracks)]
    scores, labels = chunk_index.index.search(queries, k)  # (Nq, k) each
    q_chunk = np.repeat(np.arange(n_q, dtype=np.int64), k)
    g_chunk = labels.reshape(-1).astype(np.int64)
    dist = (1.0 - scores.reshape(-1)).astype(np.float32)
    found = g_chunk >= 0  # faiss pads with -1 when fewer than k vectors are reachable
    q_chunk, g_chunk, dist = q_chunk[found], g_chunk[found], dist[found]
    track = q_track[q_chunk]
    perf_codes_uniq, perf_code = np.unique(chunk_index.chunk_perf_ids[g_chunk], return_inverse=True)

    # Best chunk pair per (query track, performance): sort, keep the first of each group.
    order = np.lexsort((g_chunk, q_chunk, dist, perf_code, track))
    track, perf_code, dist = track[order], perf_code[order], dist[order]
    q_chunk, g_chunk = q_chunk[order], g_chunk[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (track[1:] != track[:-1]) | (perf_code[1:] != perf_code[:-1])
    track, perf_code, dist = track[first], perf_code[first], dist[first]
    q_chunk, g_chunk = q_chunk[first], g_chunk[first]

    # Rank performances within each query track: distance, then perf_id (codes are sorted ids).
    order = np.lexsort((perf_code, dist, track))
    track, perf_code, dist = track[order], perf_code[order], dist[order]
    q_chunk, g_chunk = q_chunk[order], g_chunk[order]
    bounds = np.searchsorted(track, np.arange(n_tracks + 1))
    hits = []
    for t in range(n_tracks):
        rows = slice(bounds[t], min(bounds[t + 1], bounds[t] + k_tracks))
        hits.append(
            TrackHits(
                perf_ids=perf_codes_uniq[perf_code[rows]],
                distances=dist[rows],
                query_chunk=q_chunk[rows],
                gallery_chunk=g_chunk[rows],
                gallery_start_s=chunk_index.chunk_starts_s[g_chunk[rows]],
            )
        )
    return hits


def _empty_hits() -> TrackHits:
    return TrackHits(
        perf_ids=np.array([], dtype=str),
        distances=np.array([], dtype=np.float32),
        query_chunk=np.array([], dtype=np.int64),
        gallery_chunk=np.array([], dtype=np.int64),
        gallery_start_s=np.array([], dtype=np.float64),
    )


def save_chunk_index(chunk_index: ChunkIndex, index_path: str | Path, map_path: str | Path) -> None:
    """Write the faiss index in faiss's own format and the chunk map as an `.npz` (no pickle)."""
    Path(index_path).parent.mkdir(parents=True, exist_ok=True)
    Path(map_path).parent.mkdir(parents=True, exist_ok=True)
    faiss.write_index(chunk_index.index, str(index_path))
    with open(map_path, "wb") as handle:
        np.savez(
            handle,
            chunk_perf_ids=chunk_index.chunk_perf_ids.astype(str),
            chunk_starts_s=chunk_index.chunk_starts_s,
        )


def load_chunk_index(index_path: str | Path, map_path: str | Path) -> ChunkIndex:
    """Read what `save_chunk_index` wrote; search settings (efSearch, nprobe) travel in the file."""
    index = faiss.read_index(str(index_path))
    with np.load(map_path, allow_pickle=False) as chunk_map:
        perf_ids = chunk_map["chunk_perf_ids"]
        starts = chunk_map["chunk_starts_s"]
    if perf_ids.shape[0] != index.ntotal:
        raise ValueError(
            f"{map_path} maps {perf_ids.shape[0]} chunks but {index_path} holds {index.ntotal}"
        )
    return ChunkIndex(index=index, chunk_perf_ids=perf_ids, chunk_starts_s=starts)
