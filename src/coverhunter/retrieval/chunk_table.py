"""Chunk embeddings of many performances as one table: the hand-off to alignment and indexing."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch

from coverhunter.retrieval.embed import EmbedFn, embed_collection

CHUNK_COLUMNS = ["perf_id", "work_id", "chunk_idx", "start_s", "embedding"]


def embed_chunk_table(
    embed_fn: EmbedFn,
    performances: pd.DataFrame,
    features: Mapping[str, np.ndarray],
    chunk_frames: int,
    hop_frames: int,
    frame_rate: float,
    min_tail_frames: int = 1,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
) -> pd.DataFrame:
    """One row per chunk: perf_id, work_id, chunk_idx (0.. on the hop grid), start_s, embedding.

    `performances` has perf_id and work_id; chunk `i` of a performance starts at `i * hop_frames`.
    Embeddings are unit vectors stored as float32 lists.
    """
    for column in ("perf_id", "work_id"):
        if column not in performances:
            raise ValueError(f"performances table has no {column!r} column")
    chunks, chunk_perf_ids, starts_s = embed_collection(
        embed_fn,
        ((p, features[p]) for p in performances.perf_id),
        chunk_frames,
        batch_size,
        frame_rate,
        hop_frames=hop_frames,
        min_tail_frames=min_tail_frames,
        device=device,
    )
    chunks = torch.nn.functional.normalize(chunks.float(), dim=1).numpy()
    work_of = dict(zip(performances.perf_id, performances.work_id, strict=True))
    table = pd.DataFrame({"perf_id": chunk_perf_ids.astype(str), "start_s": starts_s})
    table["chunk_idx"] = table.groupby("perf_id", sort=False).cumcount()
    table["work_id"] = table.perf_id.map(work_of).astype(str)
    table["embedding"] = list(chunks.astype(np.float32))
    return table[CHUNK_COLUMNS]


def embedding_matrix(table: pd.DataFrame) -> np.ndarray:
    """The `(N, D)` float32 matrix of a chunk table's embedding column."""
    if table.empty:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack(table.embedding.to_numpy()).astype(np.float32)
