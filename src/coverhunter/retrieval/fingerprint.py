"""A content hash of a model's weights and settings: which model embedded a gallery.

A gallery of chunk embeddings is only valid for the model that made it. Kedro versions name a
save, not its content, so the gallery stores this hash instead: the same weights and settings
always give the same string, any changed tensor or setting gives another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import torch


def model_fingerprint(model: torch.nn.Module, settings: Mapping[str, Any] | None = None) -> str:
    """Hex blake2b (32 chars) of every state-dict tensor (name, dtype, shape, bytes) and `settings`.

    `settings` (JSON-serialisable) holds what changes the output without changing a tensor, e.g.
    a model config's `retrieval_embedding`; pass the model's whole config.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps(dict(settings or {}), sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)}".encode())
        # Raw bytes: exact, and works for dtypes numpy lacks (bfloat16).
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
