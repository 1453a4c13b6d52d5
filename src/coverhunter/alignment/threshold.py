"""The match threshold read off the collection: a quantile of chunk similarities across works.

The paper matches chunk pairs whose cosine similarity is above 0.9. What 0.9 means depends on
the model: measured on the rendered corpus after 1,500 CPU steps of our small model, chunks of
one work had a median similarity of 0.53 and only 1% of them passed 0.85, so 0.9 aligned 6 of
351 version pairs and the fine stage had almost nothing to train on. A chunk pair of two
different works is a match by chance only; its similarity quantile `q` is the threshold at which
such chance matches happen at rate `1 - q`, whatever the model's scale. On that run, `q = 0.995`
gave 0.65 and aligned 248 pairs, 72% of them within one hop of the true offset.
"""

from __future__ import annotations

import numpy as np

__all__ = ["impostor_threshold"]


def impostor_threshold(
    work_ids: np.ndarray,
    embeddings: np.ndarray,
    quantile: float,
    max_pairs: int = 1_000_000,
    seed: int = 0,
) -> float:
    """The `quantile` of cosine similarities between unit chunk embeddings of different works.

    Args:
        work_ids: `(N,)` the work of each chunk.
        embeddings: `(N, D)` unit chunk embeddings, row `k` of chunk `k`.
        quantile: in (0, 1), e.g. 0.995: chance matches pass the threshold at rate 0.005.
        max_pairs: chunk pairs drawn (with replacement; same-work draws are dropped), so the
            cost stays bounded on a large collection.
        seed: the draw's seed.

    Raises:
        ValueError: a quantile outside (0, 1), or fewer than two works.

    Example:
        >>> vectors = np.eye(4, dtype=np.float32)
        >>> impostor_threshold(np.array(["w1", "w1", "w2", "w3"]), vectors, 0.5)
        0.0
    """
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"impostor quantile must be in (0, 1), got {quantile}")
    work_ids = np.asarray(work_ids)
    if len(work_ids) != len(embeddings):
        raise ValueError(f"{len(work_ids)} work ids for {len(embeddings)} embeddings")
    if len(np.unique(work_ids)) < 2:
        raise ValueError("an impostor threshold needs chunks of at least two works")
    rng = np.random.default_rng(seed)
    first = rng.integers(0, len(work_ids), max_pairs)
    second = rng.integers(0, len(work_ids), max_pairs)
    keep = work_ids[first] != work_ids[second]
    first, second = first[keep], second[keep]
    vectors = np.asarray(embeddings, dtype=np.float32)
    similarity = np.einsum("nd,nd->n", vectors[first], vectors[second])
    return float(np.quantile(similarity, quantile))
