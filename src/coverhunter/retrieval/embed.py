"""Chunk embeddings of whole tracks: cut a track's CQT on the chunk grid, embed in batches.

The chunk grid is `coverhunter.data.chunking.chunk_starts` (tail kept), so row `i` of the result
is the chunk starting at frame `i * hop_frames` for every caller: alignment, indexing, queries.

`inference_embed_fn` picks the embedding arithmetic (`precision`) and returns an `Embedder`: the
function and the device it runs on, so chunks are sent where the model is. float32 (exact) and
bfloat16 autocast (~2x faster on CPUs with AVX512-BF16 or AMX, chunk embeddings within cosine
0.9999 of float32) run on the model's device; int8 dynamic quantisation of the Linear layers runs
on a CPU copy, whatever device was asked for. Give a whole track's chunks to one call
(`batch_size` >= chunks): one batch costs less than one call per chunk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from coverhunter.data.chunking import chunk_starts, cut_chunks
from coverhunter.retrieval.precision import auto_precision
from coverhunter.retrieval.quantize import autocast_embed, quantize_linear_int8

logger = logging.getLogger(__name__)

EmbedFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

PRECISIONS = ("float32", "bfloat16", "int8")
AUTO = "auto"  # what this machine runs fast (retrieval/precision.py)


@dataclass(frozen=True)
class Embedder:
    """An embed function and the device it runs on; called like the function.

    `embed_track_chunks` and `embed_collection` send an `Embedder`'s chunks to its `device`,
    whatever device they are given (that one is for bare functions).
    """

    fn: EmbedFn  # embed(cqt (B, T, F), lengths (B,)) -> (B, D)
    device: torch.device
    precision: str = "float32"

    def __call__(self, cqt: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.fn(cqt, lengths)


def _model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return torch.device("cpu") if parameter is None else parameter.device


def inference_embed_fn(
    model: nn.Module, precision: str = "float32", device: str | torch.device | None = None
) -> Embedder:
    """The eval-mode `model.embed` at `precision`, with its device, for `embed_track_chunks`.

    Args:
        model: a CoverHunter (anything with `embed(cqt (B, T, F), lengths (B,)) -> (B, D)`);
            it is put in eval mode and, for float32 and bfloat16, moved to `device` when given.
        precision: "auto" (what the device runs fast: `auto_precision`); "float32";
            "bfloat16" (autocast on the embedder's device: matrix products and
            convolutions in bfloat16, norms and the output in float32); "int8" (a CPU copy with
            int8 dynamic quantisation of every Linear; convolutions stay float32).
        device: where to embed (a resolved device, see `coverhunter.device.resolve_device`);
            default: where the model is. int8 runs on the CPU whatever this says.

    Example: `embedder = inference_embed_fn(model, "int8", "cuda")` gives `embedder.device ==
    cpu`; `embed_track_chunks(embedder, features, ...)` sends the chunks there.
    """
    if precision not in (*PRECISIONS, AUTO):
        raise ValueError(f"precision={precision!r}; expected one of {(*PRECISIONS, AUTO)}")
    target = _model_device(model) if device is None else torch.device(device)
    if precision == AUTO:
        precision, why = auto_precision(target)
        logger.info("precision auto: %s (%s)", precision, why)
    model.eval()
    if precision == "int8":
        if target.type != "cpu":
            logger.info("int8 embedding runs on the CPU only: embedding on cpu, not %s", target)
        return Embedder(quantize_linear_int8(model).embed, torch.device("cpu"), precision)
    model.to(target)
    if precision == "bfloat16":
        return Embedder(autocast_embed(model.embed, torch.bfloat16, target.type), target, precision)
    return Embedder(model.embed, target, precision)


def _embed_device(embed_fn: EmbedFn, device: str | torch.device) -> torch.device:
    """An `Embedder`'s own device, else `device`."""
    return embed_fn.device if isinstance(embed_fn, Embedder) else torch.device(device)


def embed_track_chunks(
    embed_fn: EmbedFn,
    features: np.ndarray | torch.Tensor,
    chunk_frames: int,
    batch_size: int,
    hop_frames: int | None = None,
    min_tail_frames: int = 1,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Embeddings `(N, D)` on the CPU of the chunks of one track's `features (T, F)`.

    Args:
        embed_fn: `embed(cqt (B, T, F), lengths (B,)) -> (B, D)`: an `Embedder`
            (`inference_embed_fn(model, precision)`), or a bare function such as a model's `embed`
            in eval mode; called under `torch.inference_mode()`.
        chunk_frames: frames per chunk; `hop_frames` between chunk starts (default: `chunk_frames`,
            the paper's non-overlapping inference chunks).
        batch_size: chunks per `embed_fn` call.
        min_tail_frames: a tail shorter than this is dropped (see `chunk_starts`).
        device: where a bare `embed_fn` runs; an `Embedder` runs on its own device. Chunks go
            there and embeddings come back.

    Row `i` belongs to `chunk_starts(T, chunk_frames, hop_frames, True, min_tail_frames)[i]`.
    """
    features = torch.as_tensor(features)
    assert features.ndim == 2, f"features must be (T, F), got {tuple(features.shape)}"
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    hop = chunk_frames if hop_frames is None else hop_frames
    starts = chunk_starts(features.shape[0], chunk_frames, hop, True, min_tail_frames)
    chunks, lengths = cut_chunks(features, starts, chunk_frames)
    device = _embed_device(embed_fn, device)
    out = []
    with torch.inference_mode():
        for lo in range(0, chunks.shape[0], batch_size):
            batch = chunks[lo : lo + batch_size].to(device)
            emb = embed_fn(batch, lengths[lo : lo + batch_size].to(device))
            assert emb.ndim == 2 and emb.shape[0] == batch.shape[0], (
                f"embed_fn must return (B, D), got {tuple(emb.shape)} for B={batch.shape[0]}"
            )
            out.append(emb.detach().float().cpu())
    return torch.cat(out)


def embed_collection(
    embed_fn: EmbedFn,
    features: Iterable[tuple[str, np.ndarray | torch.Tensor]],
    chunk_frames: int,
    batch_size: int,
    frame_rate: float,
    hop_frames: int | None = None,
    min_tail_frames: int = 1,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Chunk embeddings of many tracks, stacked for `build_index`.

    `features` yields `(perf_id, features (T, F))`. Returns `chunks (N, D)`, `chunk_perf_ids (N,)`
    str and `chunk_starts_s (N,)` (start frame / `frame_rate`), tracks in the order given.
    `embed_fn` and `device` as for `embed_track_chunks` (an `Embedder` runs on its own device).
    """
    if frame_rate <= 0:
        raise ValueError(f"frame_rate must be positive, got {frame_rate}")
    hop = chunk_frames if hop_frames is None else hop_frames
    embeddings, perf_ids, starts_s = [], [], []
    for perf_id, track in features:
        emb = embed_track_chunks(
            embed_fn, track, chunk_frames, batch_size, hop, min_tail_frames, device
        )
        embeddings.append(emb)
        perf_ids.append(np.full(emb.shape[0], perf_id, dtype=object))
        starts = chunk_starts(int(track.shape[0]), chunk_frames, hop, True, min_tail_frames)
        starts_s.append(starts.astype(np.float64) / frame_rate)
    if not embeddings:
        raise ValueError("embed_collection got no tracks")
    return torch.cat(embeddings), np.concatenate(perf_ids).astype(str), np.concatenate(starts_s)
