"""MIREX metrics of an embedder on a set of performances: every one a query against the others.

The embedder is any `embed(cqt (B, T, F), lengths (B,)) -> (B, D)` callable (a trained model's
`embed`, an untrained one's, a non-learned baseline's). Tracks are cut into chunks, a track
distance is the minimum cosine distance over chunk pairs, and the ranking is scored by
`mirex_metrics`. The same function scores validation inside training and the final evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from coverhunter.evaluation.bootstrap import Bootstrap
from coverhunter.evaluation.metrics import mirex_metrics
from coverhunter.evaluation.qmax import metrics_on_queries
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
class EmbedSettings:
    """How tracks are cut and embedded: `chunk_frames` per chunk every `hop_frames` (default:
    non-overlapping; tail kept, a tail shorter than `min_tail_frames` dropped, see
    `chunk_starts`), `batch_size` chunks per call, on `device` (where the embedder's model is)."""

    chunk_frames: int
    frame_rate: float
    batch_size: int = 16
    device: str | torch.device = "cpu"
    min_tail_frames: int = 1
    hop_frames: int | None = None

    @classmethod
    def from_seconds(
        cls, section: Mapping[str, Any], frame_rate: float, device: str | torch.device
    ) -> EmbedSettings:
        """From a parameter section with `chunk_s`, `min_tail_s` and `batch_size`."""
        return cls(
            chunk_frames=round(section["chunk_s"] * frame_rate),
            frame_rate=frame_rate,
            batch_size=int(section["batch_size"]),
            device=device,
            min_tail_frames=round(section["min_tail_s"] * frame_rate),
        )


@dataclass(frozen=True)
class TrackEmbeddings:
    chunks: torch.Tensor  # (N, D) unit rows
    chunk_track: torch.Tensor  # (N,) index into the track set
    chunk_starts_s: np.ndarray  # (N,)


def _rank_context() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def embed_tracks(embed_fn: EmbedFn, tracks: TrackSet, settings: EmbedSettings) -> TrackEmbeddings:
    """Chunk embeddings of every track of the set.

    Under `torch.distributed`, each rank embeds every `world_size`-th track and the ranks
    exchange their chunks, so every rank returns the whole set (in another chunk order, which
    no distance depends on) after a fraction of the work.
    """
    rank, world_size = _rank_context()
    own = [tracks.perf_ids[i] for i in range(rank, len(tracks.perf_ids), world_size)]
    share = None
    if own:
        chunks, chunk_perf_ids, starts_s = embed_collection(
            embed_fn,
            ((perf_id, tracks.features[perf_id]) for perf_id in own),
            settings.chunk_frames,
            settings.batch_size,
            settings.frame_rate,
            hop_frames=settings.hop_frames,
            min_tail_frames=settings.min_tail_frames,
            device=settings.device,
        )
        position = {perf_id: i for i, perf_id in enumerate(tracks.perf_ids)}
        chunk_track = torch.tensor([position[p] for p in chunk_perf_ids], dtype=torch.long)
        share = (chunks, chunk_track, starts_s)
    shares = [share]
    if world_size > 1:
        shares = [None] * world_size
        dist.all_gather_object(shares, share)
    shares = [s for s in shares if s is not None]
    if not shares:
        raise ValueError("embed_tracks got no tracks")
    chunks = torch.cat([s[0] for s in shares])
    chunk_track = torch.cat([s[1] for s in shares])
    starts_s = np.concatenate([s[2] for s in shares])
    return TrackEmbeddings(torch.nn.functional.normalize(chunks, dim=1), chunk_track, starts_s)


def track_sequences(embeddings: TrackEmbeddings, n_tracks: int) -> list[torch.Tensor]:
    """Each track's chunk embeddings `(T_i, D)` in time order, tracks in the set's order."""
    order = np.lexsort((embeddings.chunk_starts_s, embeddings.chunk_track.numpy()))
    track = embeddings.chunk_track[order]
    counts = torch.bincount(track, minlength=n_tracks).tolist()
    return list(torch.split(embeddings.chunks[torch.as_tensor(order)], counts))


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
    embed_fn: EmbedFn, tracks: TrackSet, settings: EmbedSettings
) -> torch.Tensor:
    """`(N, N)` track distances of the embedder on the track set (see `embed_tracks`)."""
    return all_against_all_distances(embed_tracks(embed_fn, tracks, settings), len(tracks.perf_ids))


def score_embedder(
    embed_fn: EmbedFn, tracks: TrackSet, settings: EmbedSettings
) -> dict[str, float | int]:
    """mAP, MR1, hit_rate, P@10, n_queries of the embedder on the track set (MIREX protocol)."""
    distances = embedder_distances(embed_fn, tracks, settings)
    return mirex_metrics(
        distances, tracks.work_ids, tracks.work_ids, tracks.perf_ids, tracks.perf_ids
    )


def make_validator(tracks: TrackSet, settings: EmbedSettings) -> Callable[[torch.nn.Module], float]:
    """`validate(model) -> mAP` on the track set, in eval mode; the caller's mode is restored.

    Under `torch.distributed` every rank must call it (each embeds its share of the tracks)."""

    def validate(model: torch.nn.Module) -> float:
        was_training = model.training
        model.eval()
        try:
            metrics = score_embedder(model.embed, tracks, settings)
        finally:
            model.train(was_training)
        return float(metrics["mAP"])

    return validate


def score_embedders(
    embedders: Mapping[str, Any],
    tracks: TrackSet,
    settings: EmbedSettings,
    queries: Sequence[str],
    bootstrap: Bootstrap | None = None,
) -> tuple[dict[str, dict], dict[str, dict]]:
    """MIREX metrics of each embedder (anything with `embed(cqt, lengths)`) on the track set,
    with intervals when `bootstrap` is given, and on the rows `queries` (empty rows dropped,
    all of them when there are no queries), by name."""
    scores, on_queries = {}, {}
    for name, embedder in embedders.items():
        distances = embedder_distances(embedder.embed, tracks, settings)
        ids, works = list(tracks.perf_ids), list(tracks.work_ids)
        scores[name] = mirex_metrics(distances, works, works, ids, ids, bootstrap=bootstrap)
        if queries:
            on_queries[name] = metrics_on_queries(distances, works, ids, queries, bootstrap)
    return scores, on_queries
