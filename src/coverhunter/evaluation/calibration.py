"""A calibrated yes/no: the fusion weight and the decision thresholds, fitted on validation works.

Both are read off works that are neither in the gallery nor trained on (the validation split), so
the figures the evaluation reports on the test works are out of sample.

- Fusion weights: the alignment's share of the final score (`retrieval/rerank.py`) and, when
  the re-rank's pitch stage runs, the pitch score's share (`retrieval/pitch_rerank.py`): the
  pair that gives the validation works' best mAP (ties: the smaller weights).
- Thresholds: a query whose work is not in the gallery is answered by its best-scoring other
  work; an *impostor score* is that best score, measured for every validation query with its own
  work left out of the candidates. The threshold for a false-accept rate `far` is the least score
  that at most `far` of the impostor scores reach; a query is "a version of W" when its best
  score reaches it, "no known work" otherwise. With `n` impostor scores a rate below `1 / n`
  cannot be told from 0: the threshold is then just above the highest impostor score, and
  `n_impostors` is stored with it so that the reader knows the resolution.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from coverhunter.evaluation.metrics import mirex_metrics
from coverhunter.retrieval.rerank import Reranked


def best_fusion_weights(
    reranked: Reranked,
    work_ids: Sequence[str],
    perf_ids: Sequence[str],
    weights: Sequence[float],
    pitch_weights: Sequence[float] = (0.0,),
) -> tuple[float, float, dict[tuple[float, float], float]]:
    """The fusion weight of `weights` and the pitch stage's weight of `pitch_weights` with the
    best mAP of `reranked` (all against all; `Reranked.distances`), and the mAP of each pair.
    Ties go to the smaller fusion weight, then the smaller pitch weight."""
    if not weights or not pitch_weights:
        raise ValueError("no fusion weights to choose from")
    by_pair = {
        (float(w), float(p)): mirex_metrics(
            reranked.distances(w, p), work_ids, work_ids, perf_ids, perf_ids
        )["mAP"]
        for w in weights
        for p in pitch_weights
    }
    best = max(sorted(by_pair), key=lambda pair: by_pair[pair])  # sorted: ties to the smaller
    return best[0], best[1], by_pair


def best_fusion_weight(
    reranked: Reranked, work_ids: Sequence[str], perf_ids: Sequence[str], weights: Sequence[float]
) -> tuple[float, dict[float, float]]:
    """The weight of `weights` with the best mAP of `reranked` (all against all, no pitch
    stage), and the mAP of each weight."""
    weight, _, by_pair = best_fusion_weights(reranked, work_ids, perf_ids, weights)
    return weight, {w: m for (w, _), m in by_pair.items()}


def best_scores(
    distances: torch.Tensor, exclude: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each query's best score (1 - the least distance) among the columns not excluded, and that
    column. `distances` `(Q, N)`, `exclude` `(Q, N)` bool."""
    masked = torch.as_tensor(distances).masked_fill(exclude, float("inf"))
    least, column = masked.min(1)
    return 1.0 - least, column


def threshold_at(impostor_scores: torch.Tensor, far: float) -> float:
    """The least score reached by at most `far` of `impostor_scores (n,)` (see the module doc)."""
    assert impostor_scores.ndim == 1 and impostor_scores.numel() > 0, impostor_scores.shape
    if not 0.0 < far < 1.0:
        raise ValueError(f"a false-accept rate must lie in (0, 1), got {far}")
    ordered = torch.sort(impostor_scores.double(), descending=True).values
    allowed = int(np.floor(far * ordered.numel() + 1e-9))  # impostors that may reach it
    # Just above the (allowed + 1)-th highest impostor score, so that one is refused.
    return float(np.nextafter(ordered[allowed].item(), np.inf))


def fit_thresholds(impostor_scores: torch.Tensor, fars: Sequence[float]) -> dict[str, dict]:
    """`{"far_0.01": {"far": 0.01, "threshold": t, "n_impostors": n}, ...}` for each rate."""
    return {
        f"far_{far:g}": {
            "far": float(far),
            "threshold": threshold_at(impostor_scores, far),
            "n_impostors": int(impostor_scores.numel()),
        }
        for far in fars
    }


def decide(score: float, threshold: float | None) -> bool:
    """Whether a best score means "a version of a known work" (always yes without threshold)."""
    return threshold is None or score >= threshold
