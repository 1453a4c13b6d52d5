"""Per-query rankings as a table: the nearest references of every query, for reading by eye.

The query itself is never listed (as in the metrics), nor a reference at infinite distance (one
the search did not reach). Ties in distance go to the smaller reference `perf_id`, so the table
does not depend on the reference order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

RANKING_COLUMNS = [
    "query_perf_id",
    "query_work_id",
    "rank",
    "ref_perf_id",
    "ref_work_id",
    "distance",
    "same_work",
]


def ranking_table(
    distances: torch.Tensor | np.ndarray,
    query_perf_ids: Sequence[str],
    query_work_ids: Sequence[str],
    ref_perf_ids: Sequence[str],
    ref_work_ids: Sequence[str],
    top_n: int,
    extra: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The `top_n` nearest references of each query, one row each (`RANKING_COLUMNS`, then extra).

    Args:
        distances: `(Q, R)` query x reference distances.
        extra: more `(Q, R)` arrays (e.g. where the best chunk pair starts), added as columns.
    """
    dist = torch.as_tensor(distances).detach().cpu().double().numpy()
    assert dist.ndim == 2, f"distances must be (Q, R), got {dist.shape}"
    n_q, n_r = dist.shape
    if len(query_perf_ids) != n_q or len(query_work_ids) != n_q:
        raise ValueError(f"{n_q} query rows but {len(query_perf_ids)} perf ids")
    if len(ref_perf_ids) != n_r or len(ref_work_ids) != n_r:
        raise ValueError(f"{n_r} reference columns but {len(ref_perf_ids)} perf ids")
    if top_n < 1:
        raise ValueError(f"top_n must be at least 1, got {top_n}")
    q_perf = np.asarray(query_perf_ids).astype(str)
    r_perf = np.asarray(ref_perf_ids).astype(str)
    q_work = np.asarray(query_work_ids).astype(str)
    r_work = np.asarray(ref_work_ids).astype(str)
    dist = np.where(q_perf[:, None] == r_perf[None, :], np.inf, dist)
    tie = np.broadcast_to(np.argsort(np.argsort(r_perf, kind="stable")), dist.shape)
    order = np.lexsort((tie, dist), axis=-1)[:, :top_n]  # (Q, n)
    picked = np.take_along_axis(dist, order, axis=1)
    rows, slots = np.nonzero(np.isfinite(picked))
    cols = order[rows, slots]
    table = pd.DataFrame(
        {
            "query_perf_id": q_perf[rows],
            "query_work_id": q_work[rows],
            "rank": slots + 1,
            "ref_perf_id": r_perf[cols],
            "ref_work_id": r_work[cols],
            "distance": picked[rows, slots],
            "same_work": q_work[rows] == r_work[cols],
        }
    )
    for name, values in (extra or {}).items():
        values = np.asarray(values)
        if values.shape != (n_q, n_r):
            raise ValueError(
                f"extra column {name!r} has shape {values.shape}, expected {(n_q, n_r)}"
            )
        table[name] = values[rows, cols]
    return table
