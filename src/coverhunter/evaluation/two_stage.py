"""The two-stage search scored: the re-ranked row, where pairs match, and the open-set check.

The first stage's `(N, N)` distances (the fine model through the faiss index) and the gallery's
re-rank sequences are given; every gallery performance is a query against the others, its
top-K re-scored by alignment (`retrieval/rerank.py`) and fused at the calibrated weight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from coverhunter.evaluation.bootstrap import Bootstrap
from coverhunter.evaluation.calibration import best_fusion_weights, best_scores, fit_thresholds
from coverhunter.evaluation.match_location import match_location_report
from coverhunter.evaluation.metrics import mirex_metrics
from coverhunter.evaluation.open_set import held_out_works, open_set_exclusion, open_set_report
from coverhunter.evaluation.qmax import metrics_on_queries
from coverhunter.retrieval.pitch_rerank import PitchSettings, with_pitch_scores
from coverhunter.retrieval.rerank import Reranked, RerankSettings, rerank_matrix

__all__ = [
    "Decision",
    "TwoStageScores",
    "fit_decision",
    "rankings_with_matches",
    "reranked",
    "score_two_stage",
]

# `rankings` columns that say where a shortlisted pair matches, and the segment key of each.
_MATCH_COLUMNS = {
    "query_match_start_s": "query_start_s",
    "query_match_end_s": "query_end_s",
    "ref_match_start_s": "match_start_s",
    "ref_match_end_s": "match_end_s",
}


def reranked(
    first_stage: torch.Tensor,
    sequences: Sequence[torch.Tensor],
    chromas: Sequence[torch.Tensor] | None,
    settings: RerankSettings,
    exclude: torch.Tensor,
    chroma_frame_s: float | None = None,
) -> Reranked:
    """Every performance a query against the others: `rerank_matrix`, and the pitch stage's
    scores when `settings.pitch` enables it (`chromas` then in the order of `sequences`); given
    `chroma_frame_s` (seconds a chroma frame), also where its path places each pair."""
    ranked = rerank_matrix(first_stage, sequences, sequences, settings, exclude=exclude)
    pitch = PitchSettings.of(settings.pitch)
    if not pitch.enabled:
        return ranked
    assert chromas is not None, "the pitch stage is on: chroma sequences are needed"
    return with_pitch_scores(ranked, chromas, chromas, pitch, chroma_frame_s)


@dataclass(frozen=True)
class Decision:
    """What the validation works fit: the fusion weight and the pitch stage's weight (0 when it
    is off) with the best mAP, the mAP of each pair tried, and the decision thresholds."""

    fusion_weight: float
    pitch_weight: float
    map_by_weights: dict[tuple[float, float], float]
    thresholds: dict[str, dict]


def fit_decision(
    distances: torch.Tensor,
    sequences: Sequence[torch.Tensor],
    chromas: Sequence[torch.Tensor] | None,
    work_ids: Sequence[str],
    perf_ids: Sequence[str],
    settings: RerankSettings,
    fusion_weights: Sequence[float],
    pitch_weights: Sequence[float],
    false_accept_rates: Sequence[float],
) -> Decision:
    """The weights with the best mAP among `fusion_weights` x `pitch_weights` (the latter only
    when the pitch stage is on) and the decision thresholds at `false_accept_rates`, on a set of
    validation performances (their first-stage `(N, N)` distances, re-rank sequences and chroma
    sequences). An impostor score is each query's best answer with its own work out of the
    gallery."""
    itself = torch.eye(len(perf_ids), dtype=torch.bool)
    ranked = reranked(distances, sequences, chromas, settings, itself)
    pitch_weights = pitch_weights if ranked.pitch_score is not None else (0.0,)
    weight, pitch_weight, by_pair = best_fusion_weights(
        ranked, list(work_ids), list(perf_ids), fusion_weights, pitch_weights
    )
    works = np.asarray(work_ids)
    own_work = torch.as_tensor(works[:, None] == works[None, :])
    impostor = reranked(distances, sequences, chromas, settings, own_work)
    impostor_scores, _ = best_scores(impostor.distances(weight, pitch_weight), own_work)
    thresholds = fit_thresholds(impostor_scores, false_accept_rates)
    return Decision(weight, pitch_weight, by_pair, thresholds)


@dataclass(frozen=True)
class TwoStageScores:
    """The re-ranked row (every query; Qmax's queries, empty when none), the fused `(N, N)`
    distances, the re-rank itself, and the report (`match_location`, `open_set`)."""

    metrics: dict
    on_qmax_queries: dict
    distances: torch.Tensor
    ranked: Reranked
    candidates: np.ndarray  # (N, K) perf_ids of each query's shortlist
    report: dict


def score_two_stage(
    first_stage: torch.Tensor,
    sequences: Sequence[torch.Tensor],
    chromas: Sequence[torch.Tensor] | None,
    work_ids: Sequence[str],
    perf_ids: Sequence[str],
    settings: RerankSettings,
    thresholds: Mapping[str, dict],
    true_offsets_s: Mapping[str, float],
    qmax_queries: Sequence[str],
    held_out_fraction: float,
    bootstrap: Bootstrap,
    seed: int,
    chroma_frame_s: float,
) -> TwoStageScores:
    """Every performance a query against the others through both stages: the MIREX row, the
    match location against `true_offsets_s` (perf_id -> seconds, where known) and, when
    `thresholds` were fitted, the open-set check with `held_out_fraction` of the works left out
    of the gallery (seeded). The pitch stage runs when `settings.pitch` enables it, on `chromas`
    (in the order of `sequences`, `chroma_frame_s` seconds a frame), at its `weight`. The match
    location is reported where the answers place pairs (`match_location`: by the pitch path when
    the stage ran) and for each path (`match_location_embedding`, `match_location_pitch`)."""
    itself = torch.eye(len(perf_ids), dtype=torch.bool)
    ranked = reranked(first_stage, sequences, chromas, settings, itself, chroma_frame_s)
    pitch_weight = PitchSettings.of(settings.pitch).weight
    distances = ranked.distances(settings.fusion_weight, pitch_weight)
    metrics = mirex_metrics(distances, work_ids, work_ids, perf_ids, perf_ids, bootstrap=bootstrap)
    on_qmax_queries = (
        metrics_on_queries(distances, work_ids, perf_ids, qmax_queries, bootstrap)
        if qmax_queries
        else {}
    )
    ids, works = np.asarray(perf_ids), np.asarray(work_ids)
    candidates = ids[ranked.shortlist.numpy()]
    same_work = works[ranked.shortlist.numpy()] == works[:, None]
    # the pair each query ranks first by the final score (its answer), inside its shortlist
    first = ranked.shortlist.numpy() == distances.argmin(1, keepdim=True).numpy()

    def located(segments: Mapping[str, np.ndarray]) -> dict:
        return match_location_report(
            list(perf_ids), candidates, same_work, segments, true_offsets_s, settings.hop_s, first
        )

    # where the answers place pairs (`Reranked.located_segments`), and each path's own report
    report = {"match_location": located(ranked.located_segments)}
    report["match_location_embedding"] = located(ranked.segments)
    if ranked.pitch_segments is not None:
        report["match_location_pitch"] = located(ranked.pitch_segments)
    if thresholds and len(set(work_ids)) > 1:
        held_out = held_out_works(list(work_ids), held_out_fraction, seed)
        exclude = open_set_exclusion(list(work_ids), list(perf_ids), held_out)
        open_ranked = reranked(first_stage, sequences, chromas, settings, exclude)
        report["open_set"] = open_set_report(
            open_ranked.distances(settings.fusion_weight, pitch_weight),
            list(work_ids),
            list(perf_ids),
            held_out,
            thresholds,
            bootstrap,
        )
    return TwoStageScores(metrics, on_qmax_queries, distances, ranked, candidates, report)


def rankings_with_matches(
    rankings: pd.DataFrame, scores: TwoStageScores, perf_ids: Sequence[str]
) -> pd.DataFrame:
    """`rankings` plus, for pairs in the shortlist, the final distance, the alignment score and
    where the two match (query_match_start_s/_end_s, ref_match_start_s/_end_s, by
    `Reranked.located_segments`; NaN elsewhere)."""
    candidates, ranked = scores.candidates, scores.ranked
    rows = {
        (perf_ids[q], candidates[q, k]): (q, k)
        for q in range(candidates.shape[0])
        for k in range(candidates.shape[1])
    }
    pairs = list(zip(rankings.query_perf_id, rankings.ref_perf_id, strict=True))
    where = [rows.get(pair) for pair in pairs]
    position = {perf_id: i for i, perf_id in enumerate(perf_ids)}
    out = rankings.copy()
    out["reranked_distance"] = [
        float(scores.distances[position[q], position[r]]) if w is not None else np.nan
        for w, (q, r) in zip(where, pairs, strict=True)
    ]
    out["alignment_score"] = [
        float(ranked.alignment_score[w]) if w is not None else np.nan for w in where
    ]
    if ranked.pitch_score is not None:
        out["pitch_score"] = [
            float(ranked.pitch_score[w]) if w is not None else np.nan for w in where
        ]
    for column, key in _MATCH_COLUMNS.items():
        out[column] = [
            float(ranked.located_segments[key][w]) if w is not None else np.nan for w in where
        ]
    return out
