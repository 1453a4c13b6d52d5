"""MIREX cover-song metrics from a query x reference distance matrix: mAP, MR1, hit@1, P@10.

Protocol (MIREX Audio Cover Song Identification, paper section III-A):
- The relevant references of a query are the other performances of its work. The query itself
  (same `perf_id`) is never a candidate: it is neither relevant nor ranked ahead of anything,
  as if it had distance `+inf` and relevance `False`.
- AP is the mean, over all relevant references, of the precision at each one's rank in the full
  ranking (divided by the number of relevant references, not by the hits in some top k).
- MR1 is the mean 1-based rank of the first relevant reference; hit@1 the share of queries whose
  nearest reference is relevant; P@10 the relevant share of the first 10 (always divided by 10).
- A query whose work has no other performance among the references is excluded and counted.

Tie rule (pessimistic): an irrelevant reference at the same distance as a relevant one ranks
ahead of it. A model that outputs one constant distance therefore scores as badly as possible,
and no score depends on the order of the references. Relevant references tied with each other
share their positions in either order, which changes none of the metrics.

How it is computed: the rank of a relevant reference is its position among the relevant ones
plus the number of irrelevant references at distance <= its own. The relevant distances of all
queries are gathered into one `(Q, K)` tensor (K = largest work), and the irrelevant counts are
accumulated over batches of references, so memory is `Q * K * batch`, never a sorted `(Q, R)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from coverhunter.evaluation.bootstrap import FIGURES, Bootstrap, intervals

MIREX_KEYS = ("mAP", "MR1", "hit_rate", "P@10", "n_queries")


@dataclass(frozen=True)
class QueryMetrics:
    """Per-query results `(Q,)`; excluded queries hold NaN (ap, rank, hit, precision) and 0."""

    ap: torch.Tensor  # (Q,) float64
    rank_first: torch.Tensor  # (Q,) float64, 1-based
    hit_at_1: torch.Tensor  # (Q,) float64, 0 or 1
    precision_at_10: torch.Tensor  # (Q,) float64
    n_relevant: torch.Tensor  # (Q,) int64
    excluded: torch.Tensor  # (Q,) bool, no other version of the work among the references

    @property
    def n_excluded(self) -> int:
        return int(self.excluded.sum())


def _encode(queries: Sequence[str], refs: Sequence[str], name: str) -> tuple[torch.Tensor, ...]:
    """Integer codes of two id lists over one shared vocabulary (equality of the strings)."""
    q = np.asarray(queries)
    r = np.asarray(refs)
    for arr, which in ((q, "query"), (r, "reference")):
        if arr.ndim != 1:
            raise ValueError(f"{which} {name} must be one-dimensional, got shape {arr.shape}")
        if arr.dtype.kind != "U" and not all(isinstance(i, str) for i in arr.tolist()):
            raise ValueError(f"{which} {name} must be strings, got dtype {arr.dtype}")
    _, codes = np.unique(np.concatenate([q.astype(str), r.astype(str)]), return_inverse=True)
    codes = torch.as_tensor(codes.reshape(-1), dtype=torch.long)
    return codes[: len(q)], codes[len(q) :]


def per_query_metrics(
    distances: torch.Tensor | np.ndarray,
    query_work_ids: Sequence[str],
    ref_work_ids: Sequence[str],
    query_perf_ids: Sequence[str],
    ref_perf_ids: Sequence[str],
    top_k: int = 10,
    max_elements: int = 2**24,
) -> QueryMetrics:
    """AP, rank of the first relevant, hit@1 and P@`top_k` of every query (see the module doc).

    Args:
        distances: `(Q, R)` query x reference distances, smaller is nearer; `+inf` allowed, NaN not.
        query_work_ids, query_perf_ids: `(Q,)` str. ref_work_ids, ref_perf_ids: `(R,)` str.
        top_k: the cut-off of the precision (MIREX: 10).
        max_elements: bound on the `(Q, K, batch)` comparison tensor; sets the reference batch.
    """
    dist = torch.as_tensor(distances).double()
    assert dist.ndim == 2, f"distances must be (Q, R), got {tuple(dist.shape)}"
    n_q, n_r = dist.shape
    if torch.isnan(dist).any():
        raise ValueError("distances contain NaN")
    if not (len(query_work_ids) == len(query_perf_ids) == n_q):
        raise ValueError(
            f"{n_q} query rows but {len(query_work_ids)} work ids, {len(query_perf_ids)} perf ids"
        )
    if not (len(ref_work_ids) == len(ref_perf_ids) == n_r):
        raise ValueError(
            f"{n_r} reference columns but {len(ref_work_ids)} work ids, {len(ref_perf_ids)} perf ids"
        )
    if n_q == 0 or n_r == 0:
        raise ValueError(f"distances must have queries and references, got shape {(n_q, n_r)}")
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    q_work, r_work = _encode(query_work_ids, ref_work_ids, "work ids")
    q_perf, r_perf = _encode(query_perf_ids, ref_perf_ids, "perf ids")

    # Relevant references of each query, padded to (Q, K): the query's work's block of references
    # once they are sorted by work, minus the query itself.
    r_order = torch.argsort(r_work, stable=True)
    sorted_work = r_work[r_order]
    lo = torch.searchsorted(sorted_work, q_work, right=False)
    hi = torch.searchsorted(sorted_work, q_work, right=True)
    k_max = max(int((hi - lo).max()), 1)
    slot = torch.arange(k_max)
    valid = slot[None, :] < (hi - lo)[:, None]  # (Q, K)
    ref = r_order[(lo[:, None] + slot[None, :]).clamp(max=n_r - 1)]  # (Q, K) reference columns
    valid &= r_perf[ref] != q_perf[:, None]
    rel_dist = dist.gather(1, ref)  # (Q, K)

    # Irrelevant references at distance <= each relevant one, batched over references.
    irrelevant_ahead = torch.zeros(n_q, k_max, dtype=torch.long)
    batch = max(1, max_elements // max(n_q * k_max, 1))
    for start in range(0, n_r, batch):
        cols = slice(start, start + batch)
        irrelevant = (q_work[:, None] != r_work[None, cols]) & (
            q_perf[:, None] != r_perf[None, cols]
        )  # (Q, b)
        ahead = dist[:, None, cols] <= rel_dist[:, :, None]  # (Q, K, b)
        irrelevant_ahead += (ahead & irrelevant[:, None, :]).sum(-1)

    # Sorting by that count orders the relevant references by distance; the i-th (1-based) then
    # sits at rank i + its count.
    n_relevant = valid.sum(1)
    big = torch.iinfo(torch.long).max // 2
    ahead_sorted, _ = torch.sort(torch.where(valid, irrelevant_ahead, big), dim=1)
    position = (slot + 1)[None, :]
    is_rel = position <= n_relevant[:, None]  # (Q, K), the first n_relevant slots
    rank = (ahead_sorted + position).double()  # (Q, K)
    precision = torch.where(is_rel, position / rank, 0.0)

    excluded = n_relevant == 0
    nan = torch.full((n_q,), float("nan"), dtype=torch.float64)
    denom = n_relevant.clamp(min=1).double()
    ap = torch.where(excluded, nan, precision.sum(1) / denom)
    rank_first = torch.where(excluded, nan, rank[:, 0])
    hit = torch.where(excluded, nan, (rank[:, 0] == 1).double())
    p_at_k = torch.where(excluded, nan, (is_rel & (rank <= top_k)).sum(1).double() / top_k)
    return QueryMetrics(
        ap=ap,
        rank_first=rank_first,
        hit_at_1=hit,
        precision_at_10=p_at_k,
        n_relevant=n_relevant,
        excluded=excluded,
    )


def summarize(metrics: QueryMetrics, bootstrap: Bootstrap | None = None) -> dict:
    """The MIREX summary over the included queries: keys exactly `MIREX_KEYS`, then, when
    `bootstrap` is given, `"ci95": {"mAP": [low, high], "MR1": .., "hit_rate": .., "P@10": ..}`
    (bootstrap over the included queries, see evaluation/bootstrap.py)."""
    keep = ~metrics.excluded
    n = int(keep.sum())
    if n == 0:
        raise ValueError(
            f"no query has another version among the references ({metrics.n_excluded} excluded)"
        )
    per_query = {key: getattr(metrics, field)[keep] for key, field in FIGURES.items()}
    summary = {key: float(values.mean()) for key, values in per_query.items()}
    summary["n_queries"] = n
    if bootstrap is not None:
        summary["ci95"] = intervals(per_query, bootstrap)
    return summary


def mirex_metrics(
    distances: torch.Tensor | np.ndarray,
    query_work_ids: Sequence[str],
    ref_work_ids: Sequence[str],
    query_perf_ids: Sequence[str],
    ref_perf_ids: Sequence[str],
    max_elements: int = 2**24,
    bootstrap: Bootstrap | None = None,
) -> dict:
    """`{"mAP", "MR1", "hit_rate", "P@10", "n_queries"}` of a `(Q, R)` distance matrix, and
    `"ci95"` when `bootstrap` is given (see `summarize`).

    Excluded queries (no other version among the references) are left out of every mean; their
    count is `per_query_metrics(...).n_excluded`.
    """
    metrics = per_query_metrics(
        distances,
        query_work_ids,
        ref_work_ids,
        query_perf_ids,
        ref_perf_ids,
        top_k=10,
        max_elements=max_elements,
    )
    return summarize(metrics, bootstrap)
