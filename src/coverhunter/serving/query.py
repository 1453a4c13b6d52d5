"""One audio file to chunk embeddings, exactly as the gallery was made: the query side of search.

Decode (16 kHz mono), peak-normalise, log-CQT, cut into the gallery's non-overlapping chunks (tail
kept when long enough), embed, L2-normalise. `coverhunter identify` and the MLflow model both
call this, with the CQT and chunk settings stored beside the index or the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt_batch
from coverhunter.audio.io import AudioDecodeError, load_audio, peak_normalise
from coverhunter.data.chunking import chunk_starts
from coverhunter.retrieval.embed import EmbedFn, embed_track_chunks
from coverhunter.retrieval.gallery import ChunkSettings


@dataclass(frozen=True)
class QueryChunks:
    chunks: torch.Tensor  # (N, D) unit rows, on the CPU
    starts_s: np.ndarray  # (N,) start of each chunk in the recording, seconds
    duration_s: float


def embed_audio_file(
    path: str | Path,
    embed_fn: EmbedFn,
    cqt: CQTConfig,
    chunking: ChunkSettings,
    batch_size: int,
    min_frames: int = 1,
    max_duration_s: float | None = None,
    device: str | torch.device = "cpu",
) -> QueryChunks:
    """Chunk embeddings of the recording at `path`.

    Args:
        embed_fn: `embed(cqt (B, T, F), lengths (B,)) -> (B, D)`: an `Embedder`
            (`inference_embed_fn`), which runs on its own device, or a bare function such as a
            model's `embed` in eval mode on `device`.
        min_frames: the embedder's shortest input; a shorter recording is an `AudioDecodeError`.
        max_duration_s: only the first seconds are read when given.
        device: where the CQT runs, and a bare `embed_fn`.

    Raises:
        AudioDecodeError: the file is missing, unreadable, or too short to embed.
    """
    signal = load_audio(path, cqt.sample_rate, max_duration_s)
    if signal.size == 0:
        raise AudioDecodeError(path, "the file holds no audio samples")
    duration_s = signal.shape[0] / cqt.sample_rate
    features = log_cqt_batch([peak_normalise(signal)], CQTExtractor(cqt).to(device), device)[0]
    if features.shape[0] < min_frames:
        raise AudioDecodeError(
            path,
            f"{duration_s:.2f} s of audio is too short to embed ({min_frames} CQT frames needed)",
        )
    chunk_frames, min_tail_frames = chunking.frames(cqt.frame_rate, min_frames)
    chunks = embed_track_chunks(
        embed_fn, features, chunk_frames, batch_size, chunk_frames, min_tail_frames, device
    )
    starts = chunk_starts(features.shape[0], chunk_frames, chunk_frames, True, min_tail_frames)
    return QueryChunks(
        chunks=torch.nn.functional.normalize(chunks, dim=1),
        starts_s=starts.astype(np.float64) / cqt.frame_rate,
        duration_s=float(duration_s),
    )


def track_embedding(chunks: torch.Tensor) -> torch.Tensor:
    """`(N, D)` unit chunk embeddings -> `(D,)` their mean, re-normalised (the gallery's rule)."""
    assert chunks.ndim == 2 and chunks.shape[0] > 0, f"chunks must be (N>0, D), got {chunks.shape}"
    return torch.nn.functional.normalize(chunks.double().sum(0), dim=0).float()
