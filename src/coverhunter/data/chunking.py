"""Cutting a track's log-CQT into chunks on a regular grid, and padding ragged chunks into a batch.

Shared by coarse training (15 s chunks, 7.5 s hop), alignment and indexing (45 s, no overlap), so
a chunk index means the same start frame everywhere: chunk `i` starts at `i * hop_frames`.

The tail rule. The grid holds every start `i * hop` whose chunk fits in the track. When that
leaves frames after the last full chunk uncovered (the authors' chunker drops them), one more
chunk starts at the next grid point and runs to the end of the track: it is shorter than the
others and `cut_chunks` pads it. We keep the tail chunk on the grid (rather than ending a full
chunk at the track's end) so chunk offsets stay whole multiples of the hop for the aligner and
inference chunks stay non-overlapping. 100 frames, chunk 30, hop 15: starts 0, 15, 30, 45, 60
(full) and 75 (25 valid frames).

Padding. Padded frames hold `pad_value` (0.0 unless asked otherwise); they carry no information
and the `lengths` returned beside every padded array tell the model which frames are real.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def chunk_starts(
    n_frames: int,
    chunk_frames: int,
    hop_frames: int,
    keep_tail: bool = True,
    min_tail_frames: int = 1,
) -> np.ndarray:
    """Start frames `(N,)` int64 of the chunks of an `n_frames` track (see the module's tail rule).

    A track shorter than one chunk gives one chunk at 0. With `keep_tail`, a final chunk at the
    next grid point covers the frames after the last full chunk when there are at least
    `min_tail_frames` of them.
    """
    if n_frames < 1:
        raise ValueError(f"n_frames must be at least 1, got {n_frames}")
    if chunk_frames < 1 or hop_frames < 1:
        raise ValueError(
            f"chunk_frames and hop_frames must be at least 1, got {chunk_frames} and {hop_frames}"
        )
    if min_tail_frames < 1:
        raise ValueError(f"min_tail_frames must be at least 1, got {min_tail_frames}")
    if n_frames <= chunk_frames:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n_frames - chunk_frames + 1, hop_frames, dtype=np.int64)
    # Frames the tail chunk would add: past the last full chunk and, when the grid has gaps
    # (hop > chunk), past the next grid point too.
    uncovered = n_frames - (int(starts[-1]) + max(chunk_frames, hop_frames))
    if keep_tail and uncovered >= min_tail_frames:
        starts = np.append(starts, starts[-1] + hop_frames)
    return starts


def cut_chunks(
    features: np.ndarray | torch.Tensor,
    starts: Sequence[int] | np.ndarray,
    chunk_frames: int,
    pad_value: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Chunks of `features (T, F)` at `starts`: `(chunks (N, chunk_frames, F), lengths (N,))`.

    Chunks are float32, lengths long. A chunk running past the end of the track is padded with
    `pad_value`; its length counts only the frames the track holds.
    """
    features = torch.as_tensor(features, dtype=torch.float32)
    assert features.ndim == 2, f"features must be (T, F), got {tuple(features.shape)}"
    n_frames, n_bins = features.shape
    starts = np.asarray(starts, dtype=np.int64).reshape(-1)
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be at least 1, got {chunk_frames}")
    bad = starts[(starts < 0) | (starts >= n_frames)]
    if bad.size:
        raise ValueError(f"chunk starts {bad.tolist()} lie outside a track of {n_frames} frames")
    chunks = torch.full((len(starts), chunk_frames, n_bins), float(pad_value))
    lengths = torch.as_tensor(np.minimum(chunk_frames, n_frames - starts), dtype=torch.long)
    for row, (start, length) in enumerate(zip(starts.tolist(), lengths.tolist(), strict=True)):
        chunks[row, :length] = features[start : start + length]
    return chunks, lengths


def pad_batch(
    items: Sequence[np.ndarray | torch.Tensor], pad_value: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ragged `(T_i, F)` arrays: `(padded (B, max T_i, F) float32, lengths (B,) long)`."""
    if len(items) == 0:
        raise ValueError("pad_batch needs at least one item, got none")
    tensors = [torch.as_tensor(item, dtype=torch.float32) for item in items]
    shapes = [tuple(tensor.shape) for tensor in tensors]
    if any(len(shape) != 2 for shape in shapes):
        raise ValueError(f"pad_batch items must be (T, F), got shapes {shapes}")
    if len({shape[1] for shape in shapes}) != 1:
        raise ValueError(f"pad_batch items disagree on F: shapes {shapes}")
    lengths = torch.tensor([shape[0] for shape in shapes], dtype=torch.long)
    padded = torch.full((len(tensors), int(lengths.max()), shapes[0][1]), float(pad_value))
    for row, tensor in enumerate(tensors):
        padded[row, : tensor.shape[0]] = tensor
    return padded, lengths
