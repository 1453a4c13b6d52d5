"""MIREX metrics of an embedder on a set of performances: every one a query against the others.

The embedder is any `embed(cqt (B, T, F), lengths (B,)) -> (B, D)` callable (a trained model's
`embed`, an untrained one's, a non-learned baseline's). Tracks are cut into chunks, a track
distance is the minimum cosine distance over chunk pairs, and the ranking is scored by
`mirex_metrics`. The same function scores validation inside training and the final evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from coverhunter.evaluation.metrics import mirex_metrics
from coverhunter.retrieval.distances import track_distances
from coverhunter.retrieval.embed import EmbedFn, embed_collection


@dataclass(frozen=True)
class TrackSet:
    """Performances to score, their works, and their features `(T, F)` by perf_id."""

    perf_ids: Sequence[str]
    work_ids: Sequence[str]
    features: Mapping[str, np.ndarray]

    def __post_init__(self):
        if len(self.perf_ids) != len(self.work_ids):
            raise ValueError(
                f"{len(self.perf_ids)} perf_ids but {len(self.work_ids)} work_ids in the track set"
            )
        missing = [p for p in self.perf_ids if p not in self.features]
        if missing:
            raise ValueError(f"no features for {len(missing)} performances, e.g. {missing[:3]}")


@dataclass(frozen=True)
class TrackEmbeddings:
    chunks: torch.Tensor  # (N, D) unit rows
    chunk_track: torch.Tensor  # (N,) index into the track set
    chunk_starts_s: np.ndarray  # (N,)


def embed_tracks(
    embed_fn: EmbedFn,
    tracks: TrackSet,
    chunk_frames: int,
    frame_rate: float,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    min_tail_frames: int = 1,
) -> TrackEmbeddings:
    """Chunk embeddings (non-overlapping chunks, tail kept) of every track of the set.

    A tail shorter than `min_tail_frames` is dropped (see `chunk_starts`); indexing and the
    final evaluation pass the gallery's setting so every embedder sees the same chunks.
    """
    chunks, chunk_perf_ids, starts_s = embed_collection(
        embed_fn,
        ((p, tracks.features[p]) for p in tracks.perf_ids),
        chunk_frames,
        batch_size,
        frame_rate,
        min_tail_frames=min_tail_frames,
        device=device,
    )
    position = {perf_id: i for i, perf_id in enumerate(tracks.perf_ids)}
    chunk_track = torch.tensor([position[p] for p in chunk_perf_ids], dtype=torch.long)
    return TrackEmbeddings(torch.nn.functional.normalize(chunks, dim=1), chunk_track, starts_s)


def all_against_all_distances(embeddings: TrackEmbeddings, n_tracks: int) -> torch.Tensor:
    """`(Q, Q)` min-over-chunk-pairs cosine distances of a track set against itself."""
    return track_distances(
        embeddings.chunks,
        embeddings.chunk_track,
        embeddings.chunks,
        embeddings.chunk_track,
        n_tracks,
        n_tracks,
    )


def embedder_distances(
    embed_fn: EmbedFn,
    tracks: TrackSet,
    chunk_frames: int,
    frame_rate: float,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    min_tail_frames: int = 1,
) -> torch.Tensor:
    """`(N, N)` track distances of the embedder on the track set (see `embed_tracks`)."""
    embeddings = embed_tracks(
        embed_fn, tracks, chunk_frames, frame_rate, batch_size, device, min_tail_frames
    )
    return all_against_all_distances(embeddings, len(tracks.perf_ids))


def score_embedder(
    embed_fn: EmbedFn,
    tracks: TrackSet,
    chunk_frames: int,
    frame_rate: float,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    min_tail_frames: int = 1,
) -> dict[str, float | int]:
    """mAP, MR1, hit_rate, P@10, n_queries of the embedder on the track set (MIREX protocol)."""
    distances = embedder_distances(
        embed_fn, tracks, chunk_frames, frame_rate, batch_size, device, min_tail_frames
    )
    return mirex_metrics(
        distances, tracks.work_ids, tracks.work_ids, tracks.perf_ids, tracks.perf_ids
    )


def make_validator(
    tracks: TrackSet,
    chunk_frames: int,
    frame_rate: float,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    min_tail_frames: int = 1,
) -> Callable[[torch.nn.Module], float]:
    """`validate(model) -> mAP` on the track set, in eval mode; the caller's mode is restored."""

    def validate(model: torch.nn.Module) -> float:
        was_training = model.training
        model.eval()
        try:
            metrics = score_embedder(
                model.embed, tracks, chunk_frames, frame_rate, batch_size, device, min_tail_frames
            )
        finally:
            model.train(was_training)
        return float(metrics["mAP"])

    return validate
