"""Cheaper query-time embedding on the CPU: int8 dynamic quantisation and bfloat16 autocast.

Both change the embeddings a little; `cosine_agreement` measures how much, so a caller can
accept a variant only when it stays within a stated tolerance of the float32 model (the query
benchmark does, `benchmarks/query_latency.py`). Training is untouched: these are inference-only.

- `quantize_linear_int8`: `torch.ao.quantization.quantize_dynamic` on every `nn.Linear` (weights
  int8, activations quantised per batch on the fly). Convolutions stay float32.
- `autocast_embed`: runs an embed function under `torch.autocast(dtype=bfloat16)`; on CPUs with
  AVX512-BF16 or AMX, oneDNN runs the matrix products and convolutions at twice the float32 rate.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable

import torch
from torch import nn

from coverhunter.retrieval.distances import check_unit_norm

__all__ = ["autocast_embed", "cosine_agreement", "quantize_linear_int8"]

logger = logging.getLogger(__name__)

EmbedFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def quantize_linear_int8(model: nn.Module) -> nn.Module:
    """A copy of `model` (eval mode) whose `nn.Linear` layers use int8 dynamic quantisation.

    The original is left as it is. The copy runs on the CPU only.
    """
    source = copy.deepcopy(model).cpu().eval()
    quantized = torch.ao.quantization.quantize_dynamic(source, {nn.Linear}, dtype=torch.qint8)
    n_linear = sum(isinstance(m, nn.Linear) for m in model.modules())
    logger.info("quantised %d Linear layers to int8 (dynamic)", n_linear)
    return quantized


def autocast_embed(
    embed_fn: EmbedFn, dtype: torch.dtype = torch.bfloat16, device_type: str = "cpu"
) -> EmbedFn:
    """`embed_fn` run under `torch.autocast(device_type, dtype)`, returning float32 `(B, D)`."""
    if dtype not in (torch.bfloat16, torch.float16):
        raise ValueError(f"autocast dtype must be bfloat16 or float16, got {dtype}")

    def embed(cqt: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type, dtype=dtype):
            return embed_fn(cqt, lengths).float()

    return embed


def cosine_agreement(reference: torch.Tensor, other: torch.Tensor) -> float:
    """Smallest row-wise cosine similarity of two `(N, D)` sets of unit embeddings.

    1.0 means identical directions; retrieval by cosine distance ranks them the same.
    """
    assert reference.ndim == 2 and other.ndim == 2, (reference.shape, other.shape)
    if reference.shape != other.shape:
        raise ValueError(f"shapes differ: {tuple(reference.shape)} and {tuple(other.shape)}")
    check_unit_norm(reference, "reference")
    check_unit_norm(other, "other")
    return float((reference.float() * other.float()).sum(dim=1).min())
