"""From performances to works: which works a query is a version of, and where it matches.

A work's distance to the query is that of its nearest performance (the same min rule that makes
a performance's distance the min over chunk pairs); the answer names that performance and the
start of the matching chunk in both recordings.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from coverhunter.retrieval.index import TrackHits

WORK_COLUMNS = [
    "rank",
    "work_id",
    "score",
    "distance",
    "perf_id",
    "query_start_s",
    "match_start_s",
]


def rank_works(
    hits: TrackHits,
    work_of: Mapping[str, str],
    query_starts_s: np.ndarray,
    top_works: int,
) -> pd.DataFrame:
    """The `top_works` nearest works of one query track, nearest first (columns `WORK_COLUMNS`).

    Args:
        hits: the query's performances, nearest first (`search_tracks` output).
        work_of: work_id of every gallery performance.
        query_starts_s: `(Nq,)` start of each query chunk, indexed by `hits.query_chunk`.
        top_works: works returned at most.

    `score` is the cosine similarity `1 - distance` of the best chunk pair.
    """
    if top_works < 1:
        raise ValueError(f"top_works must be at least 1, got {top_works}")
    missing = sorted({p for p in hits.perf_ids.tolist() if p not in work_of})
    if missing:
        raise ValueError(f"no work_id for gallery performances {missing[:5]}")
    table = pd.DataFrame(
        {
            "work_id": [work_of[p] for p in hits.perf_ids.tolist()],
            "distance": hits.distances.astype(np.float64),
            "perf_id": hits.perf_ids.astype(str),
            "query_start_s": np.asarray(query_starts_s, dtype=np.float64)[hits.query_chunk],
            "match_start_s": hits.gallery_start_s.astype(np.float64),
        }
    )
    # Hits come nearest first, so the first row of each work is its nearest performance.
    table = table.drop_duplicates("work_id", keep="first").head(top_works).reset_index(drop=True)
    table["score"] = 1.0 - table.distance
    table["rank"] = np.arange(1, len(table) + 1)
    return table[WORK_COLUMNS]


RERANKED_COLUMNS = [
    "rank",
    "work_id",
    "score",
    "embedding_score",
    "alignment_score",
    "perf_id",
    "query_start_s",
    "query_end_s",
    "match_start_s",
    "match_end_s",
]


def rank_works_reranked(
    perf_ids: np.ndarray,
    work_of: Mapping[str, str],
    embedding_score: np.ndarray,
    alignment_score: np.ndarray,
    fused_score: np.ndarray,
    segments: Mapping[str, np.ndarray],
    top_works: int,
) -> pd.DataFrame:
    """The `top_works` works of one query after the re-rank, best fused score first (columns
    `RERANKED_COLUMNS`): each work by its best-scoring shortlisted performance, with where the
    two recordings match (`segments`: query_start_s, query_end_s, match_start_s, match_end_s).
    Every argument but `work_of` is `(K,)`, one entry per shortlisted performance."""
    if top_works < 1:
        raise ValueError(f"top_works must be at least 1, got {top_works}")
    table = pd.DataFrame(
        {
            "work_id": [work_of[p] for p in perf_ids.tolist()],
            "score": np.asarray(fused_score, dtype=np.float64),
            "embedding_score": np.asarray(embedding_score, dtype=np.float64),
            "alignment_score": np.asarray(alignment_score, dtype=np.float64),
            "perf_id": perf_ids.astype(str),
            **{key: np.asarray(value, dtype=np.float64) for key, value in segments.items()},
        }
    )
    table = table.iloc[shown_positions(table.work_id.to_numpy(), fused_score, top_works)]
    table = table.reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return table[RERANKED_COLUMNS]


def shown_positions(work_ids: np.ndarray, score: np.ndarray, top_works: int) -> np.ndarray:
    """The shortlist positions `rank_works_reranked` shows, best first: each work's
    best-scoring performance, for the `top_works` best works (a stable sort: equal scores keep
    the first stage's order)."""
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
    seen: set = set()
    shown = []
    for position in order.tolist():
        if work_ids[position] not in seen and len(shown) < top_works:
            seen.add(work_ids[position])
            shown.append(position)
    return np.asarray(shown, dtype=np.int64)
