"""The fine model scored the way a user's query runs: through the faiss gallery index.

Every gallery performance is a query against the others; its chunks' nearest gallery chunks
give the track distances (`retrieval/index_distances.py`), which give the MIREX row, the
per-query metrics, the rankings (with where the best chunk pair lies) and the distance
histograms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from coverhunter.evaluation.bootstrap import Bootstrap
from coverhunter.evaluation.metrics import QueryMetrics, per_query_metrics, summarize
from coverhunter.evaluation.plots import distance_histograms
from coverhunter.evaluation.qmax import metrics_on_queries
from coverhunter.evaluation.rankings import ranking_table
from coverhunter.retrieval.chunk_table import embedding_matrix
from coverhunter.retrieval.index import ChunkIndex
from coverhunter.retrieval.index_distances import index_track_distances

__all__ = ["IndexScores", "score_through_index"]


@dataclass(frozen=True)
class IndexScores:
    metrics: dict  # the MIREX row with its intervals
    on_qmax_queries: dict  # the same on Qmax's queries; empty when there are none
    per_query: QueryMetrics
    rankings: pd.DataFrame
    histograms: Figure
    distances: torch.Tensor  # (N, N) track distances, the re-rank's first stage


def score_through_index(
    gallery_index: ChunkIndex,
    gallery_chunks: pd.DataFrame,
    perf_ids: Sequence[str],
    work_ids: Sequence[str],
    qmax_queries: Sequence[str],
    search: dict,
    rankings_top_n: int,
    histogram_bins: int,
    bootstrap: Bootstrap,
) -> IndexScores:
    """Score the gallery against itself through its index (`search`: `k_chunks` nearest
    chunks per query chunk, `batch_tracks` queries at a time)."""
    position = {perf_id: i for i, perf_id in enumerate(perf_ids)}
    found = index_track_distances(
        gallery_index,
        embedding_matrix(gallery_chunks),
        gallery_chunks.perf_id.map(position).to_numpy(),
        len(perf_ids),
        list(perf_ids),
        k_chunks=search["k_chunks"],
        batch_tracks=search["batch_tracks"],
    )
    per_query = per_query_metrics(found.distances, work_ids, work_ids, perf_ids, perf_ids)
    on_qmax_queries = (
        metrics_on_queries(found.distances, work_ids, perf_ids, qmax_queries, bootstrap)
        if qmax_queries
        else {}
    )
    starts = gallery_chunks.start_s.to_numpy()
    index_starts = gallery_index.chunk_starts_s
    rankings = ranking_table(
        found.distances,
        perf_ids,
        work_ids,
        perf_ids,
        work_ids,
        top_n=rankings_top_n,
        extra={
            "query_start_s": np.where(found.query_chunk >= 0, starts[found.query_chunk], np.nan),
            "ref_start_s": np.where(
                found.gallery_chunk >= 0, index_starts[found.gallery_chunk], np.nan
            ),
        },
    )
    works = np.asarray(work_ids)
    off_diagonal = found.distances.clone().fill_diagonal_(float("inf"))
    histograms = distance_histograms(
        off_diagonal, works[:, None] == works[None, :], bins=histogram_bins
    )
    return IndexScores(
        summarize(per_query, bootstrap),
        on_qmax_queries,
        per_query,
        rankings,
        histograms,
        found.distances,
    )
