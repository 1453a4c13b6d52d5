"""Cosine similarity between L2-normalised chunk embeddings, and chunk sets reduced to tracks.

The one pairwise helper of the project (retrieval and evaluation use it; alignment, which may not
import us, does the same `bmm`). A track's distance to another is the minimum cosine distance over
all pairs of their chunks (paper section II-D, "Inference"): a cover that shares one 45 s passage
with the query is found even when the rest of the recording differs.
"""

from __future__ import annotations

import torch

DEFAULT_NORM_ATOL = 1e-3


def check_unit_norm(
    x: torch.Tensor, name: str, atol: float = DEFAULT_NORM_ATOL, mask: torch.Tensor | None = None
) -> None:
    """Raise `ValueError` unless every row of `x (..., D)` (where `mask (...)` holds) has norm 1.

    Cosine similarity is a plain dot product only for unit vectors; a model that forgot to
    normalise would otherwise give silently wrong distances.
    """
    norms = torch.linalg.vector_norm(x.float(), dim=-1)
    if mask is not None:
        norms = norms[mask]
    if norms.numel() == 0:
        return
    worst = (norms - 1.0).abs().max().item()
    if not worst <= atol:  # also catches NaN
        raise ValueError(
            f"{name} must be L2-normalised rows; the worst row norm is off by {worst:.3g} "
            f"(tolerance {atol})"
        )


def cosine_similarity_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity `(N, M)` of unit rows `a (N, D)` and `b (M, D)`."""
    assert a.ndim == 2 and b.ndim == 2, f"expected (N,D) and (M,D), got {a.shape} and {b.shape}"
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"embedding sizes differ: a has D={a.shape[1]}, b has D={b.shape[1]}")
    check_unit_norm(a, "a")
    check_unit_norm(b, "b")
    return a @ b.T


def batched_cosine_similarity(
    a: torch.Tensor,
    b: torch.Tensor,
    mask_a: torch.Tensor | None = None,
    mask_b: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cosine similarity `(W, N, M)` of `a (W, N, D)` and `b (W, M, D)`, one matrix per set pair.

    `mask_a (W, N)` / `mask_b (W, M)` mark real rows of padded sets; only those are checked for
    unit norm, and padded rows give similarity 0 when they hold zeros.
    """
    assert a.ndim == 3 and b.ndim == 3, f"expected (W,N,D) and (W,M,D), got {a.shape}, {b.shape}"
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[2]:
        raise ValueError(f"batched shapes disagree: a {tuple(a.shape)}, b {tuple(b.shape)}")
    check_unit_norm(a, "a", mask=mask_a)
    check_unit_norm(b, "b", mask=mask_b)
    return torch.bmm(a, b.transpose(1, 2))


def cosine_distance_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine distance `(N, M)` = 1 - cosine similarity of unit rows `a (N, D)`, `b (M, D)`."""
    return 1.0 - cosine_similarity_matrix(a, b)


def _check_track_ids(ids: torch.Tensor, n_chunks: int, n_tracks: int, name: str) -> torch.Tensor:
    assert ids.ndim == 1, f"{name} must be (N,), got {tuple(ids.shape)}"
    if ids.shape[0] != n_chunks:
        raise ValueError(f"{name} has {ids.shape[0]} entries for {n_chunks} chunks")
    if ids.is_floating_point():
        raise ValueError(f"{name} must hold integer track indices, got dtype {ids.dtype}")
    if n_chunks and (int(ids.min()) < 0 or int(ids.max()) >= n_tracks):
        raise ValueError(
            f"{name} must lie in [0, {n_tracks}), got range [{int(ids.min())}, {int(ids.max())}]"
        )
    return ids.long()


def track_distances(
    query_chunks: torch.Tensor,
    query_track_ids: torch.Tensor,
    gallery_chunks: torch.Tensor,
    gallery_track_ids: torch.Tensor,
    n_tracks_q: int,
    n_tracks_g: int,
    batch: int = 4096,
) -> torch.Tensor:
    """Track distance `(Q, R)`: min over chunk pairs of cosine distance.

    Args:
        query_chunks: `(Nq, D)` unit chunk embeddings of all query tracks.
        query_track_ids: `(Nq,)` integer track index in `[0, n_tracks_q)` of each query chunk.
        gallery_chunks: `(Ng, D)` unit chunk embeddings of all gallery tracks.
        gallery_track_ids: `(Ng,)` integer track index in `[0, n_tracks_g)` of each gallery chunk.
        n_tracks_q, n_tracks_g: number of query / gallery tracks (Q, R).
        batch: query chunks per step; memory is about `batch * (Ng + R)` floats.

    A track without chunks keeps distance `+inf` in its row or column.
    """
    assert query_chunks.ndim == 2 and gallery_chunks.ndim == 2
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    q_ids = _check_track_ids(query_track_ids, query_chunks.shape[0], n_tracks_q, "query_track_ids")
    g_ids = _check_track_ids(
        gallery_track_ids, gallery_chunks.shape[0], n_tracks_g, "gallery_track_ids"
    )
    check_unit_norm(gallery_chunks, "gallery_chunks")
    out = torch.full(
        (n_tracks_q, n_tracks_g), float("inf"), dtype=torch.float32, device=query_chunks.device
    )
    for lo in range(0, query_chunks.shape[0], batch):
        # (b, Ng) chunk distances -> (b, R) by min over each gallery track's chunks ...
        chunk_dist = cosine_distance_matrix(query_chunks[lo : lo + batch], gallery_chunks).float()
        per_gallery = torch.full(
            (chunk_dist.shape[0], n_tracks_g), float("inf"), device=chunk_dist.device
        )
        index = g_ids.to(chunk_dist.device).expand_as(chunk_dist)
        per_gallery.scatter_reduce_(1, index, chunk_dist, reduce="amin", include_self=True)
        # ... then (Q, R) by min over each query track's chunks, across batches.
        rows = q_ids[lo : lo + batch].to(out.device)[:, None].expand_as(per_gallery)
        out.scatter_reduce_(0, rows, per_gallery, reduce="amin", include_self=True)
    return out
