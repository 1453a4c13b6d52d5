"""evaluation: every gallery performance a query against the others (MIREX), the models side by side.

The fine model is scored through the faiss gallery index, the path a user's query takes; the
untrained model (the fine model's architecture, fresh weights), the coarse model and the chroma
baseline are scored on the same tracks and the same 45 s chunks, directly. The classical Qmax
baseline is pairwise and slow: it scores a capped, seeded choice of the queries (the
`qmax_queries`) against every gallery performance, and every other model is scored on those
queries too (`same_queries_as_qmax`), so its row compares.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from coverhunter.audio.cqt import CQTConfig
from coverhunter.audio.io import load_audio, peak_normalise
from coverhunter.data.feature_store import FeatureStore
from coverhunter.device import resolve_device
from coverhunter.evaluation.bootstrap import Bootstrap
from coverhunter.evaluation.by_variation import map_by_variation
from coverhunter.evaluation.calibration import best_fusion_weight, best_scores, fit_thresholds
from coverhunter.evaluation.champion import (
    Promotion,
    decide_promotion,
    metric_tags,
    queries_fingerprint,
)
from coverhunter.evaluation.collection import (
    EmbedSettings,
    TrackSet,
    all_against_all_distances,
    embed_tracks,
    embedder_distances,
    track_sequences,
)
from coverhunter.evaluation.match_location import match_location_report
from coverhunter.evaluation.metrics import (
    MIREX_KEYS,
    QueryMetrics,
    mirex_metrics,
    per_query_metrics,
    summarize,
)
from coverhunter.evaluation.open_set import held_out_works, open_set_exclusion, open_set_report
from coverhunter.evaluation.plots import distance_histograms, embedding_map
from coverhunter.evaluation.qmax import (
    INSTALL_HINT,
    QmaxSettings,
    essentia_available,
    hpcp_features,
    metrics_on_queries,
    score_qmax,
    stratified_queries,
)
from coverhunter.evaluation.rankings import ranking_table
from coverhunter.evaluation.report import metric_items, mlflow_metric_name, results_table
from coverhunter.model.baselines import ChromaBaseline
from coverhunter.model.coverhunter import CoverHunter
from coverhunter.retrieval.chunk_table import embedding_matrix
from coverhunter.retrieval.embed import inference_embed_fn
from coverhunter.retrieval.gallery import ChunkSettings
from coverhunter.retrieval.index import ChunkIndex
from coverhunter.retrieval.index_distances import index_track_distances
from coverhunter.retrieval.rerank import RerankSettings, rerank_matrix, sequences_from_table
from coverhunter.serving.pyfunc import alias_version, log_and_register

logger = logging.getLogger(__name__)

RERANKED = "fine+rerank"
MODEL_ORDER = ("untrained", "chroma_baseline", "pretrained", "coarse", "fine", RERANKED, "qmax")
# The block of `evaluation_metrics` with every model scored on Qmax's queries.
SAME_QUERIES = "same_queries_as_qmax"
# What the qmax row holds beside the MIREX metrics, logged as `eval/qmax/<key>`.
QMAX_TIMING = ("n_pairs", "seconds_per_pair", "seconds_pairs", "seconds_hpcp", "seconds_total")


def choose_qmax_queries(gallery_embeddings: pd.DataFrame, evaluation: dict, seed: int) -> list:
    """The gallery performances Qmax scores as queries: `evaluation.qmax.max_queries` of them
    (null: all; 0: none, no qmax row), seeded and stratified by work. None, with a warning,
    where Essentia is not installed (the `qmax` extra): the run goes on without the qmax row."""
    if evaluation["qmax"]["max_queries"] != 0 and not essentia_available():
        logger.warning("qmax baseline skipped: %s", INSTALL_HINT)
        return []
    return stratified_queries(
        list(gallery_embeddings.perf_id),
        list(gallery_embeddings.work_id),
        evaluation["qmax"]["max_queries"],
        seed,
    )


def _in_model_order(rows: dict) -> dict:
    """`rows` by model, in `MODEL_ORDER` (models not in it are left out)."""
    return {name: rows[name] for name in MODEL_ORDER if name in rows}


def _bootstrap(evaluation: dict, seed: int) -> Bootstrap:
    """The intervals' settings: `evaluation.bootstrap`, seeded by the run's seed (every row is
    resampled alike, so rows on the same queries compare pairwise)."""
    return Bootstrap(n_boot=evaluation["bootstrap"]["n_boot"], seed=seed)


def _on_queries(
    distances, work_ids: list, perf_ids: list, queries: list, bootstrap: Bootstrap
) -> dict:
    """Metrics of the rows `queries` of all-against-all `distances`; empty when no queries."""
    if not queries:
        return {}
    return metrics_on_queries(distances, work_ids, perf_ids, queries, bootstrap)


def score_reference_models(
    gallery_embeddings: pd.DataFrame,
    cqt_features: FeatureStore,
    coarse_model: dict,
    fine_model: dict,
    pretrained_model: dict,
    qmax_queries: list,
    indexing: dict,
    evaluation: dict,
    feature_cqt: dict,
    seed: int,
    device: str,
) -> tuple[dict, dict]:
    """MIREX metrics of the untrained model, the chroma baseline, the shipped pretrained model as
    it is (zero-shot: it never saw these works; when the project has it) and the coarse model, on
    every query and on Qmax's queries (empty when there are none)."""
    cqt = CQTConfig(**feature_cqt["cqt"])
    target = resolve_device(device)
    perf_ids = list(gallery_embeddings.perf_id)
    tracks = TrackSet(perf_ids, list(gallery_embeddings.work_id), cqt_features.float32())
    untrained = CoverHunter(
        fine_model["model"].config, generator=torch.Generator().manual_seed(seed)
    )
    chroma = evaluation["chroma_baseline"]
    embedders = {
        "untrained": untrained.to(target).eval(),
        "chroma_baseline": ChromaBaseline(
            n_bins=cqt.n_bins,
            bins_per_octave=cqt.bins_per_octave,
            pool_frames=round(chroma["pool_s"] * cqt.frame_rate),
            patch_steps=chroma["patch_steps"],
        ).to(target),
        "coarse": coarse_model["model"].to(target).eval(),
    }
    if pretrained_model["model"] is not None:
        embedders["pretrained"] = pretrained_model["model"].to(target).eval()
    min_frames = min(m.min_frames for name, m in embedders.items() if name != "chroma_baseline")
    chunk_frames, min_tail_frames = ChunkSettings(
        indexing["chunk_s"], indexing["min_tail_s"]
    ).frames(cqt.frame_rate, min_frames)
    bootstrap = _bootstrap(evaluation, seed)
    scores, on_qmax_queries = {}, {}
    for name, embedder in embedders.items():
        settings = EmbedSettings(
            chunk_frames, cqt.frame_rate, indexing["batch_size"], target, min_tail_frames
        )
        distances = embedder_distances(embedder.embed, tracks, settings)
        work_ids = tracks.work_ids
        scores[name] = mirex_metrics(
            distances, work_ids, work_ids, perf_ids, perf_ids, bootstrap=bootstrap
        )
        on_qmax_queries[name] = _on_queries(distances, work_ids, perf_ids, qmax_queries, bootstrap)
    return scores, {name: row for name, row in on_qmax_queries.items() if row}


def score_fine_model(
    gallery_chunks: pd.DataFrame,
    gallery_embeddings: pd.DataFrame,
    gallery_index: ChunkIndex,
    qmax_queries: list,
    evaluation: dict,
    seed: int,
) -> tuple[dict, dict, QueryMetrics, pd.DataFrame, Figure, torch.Tensor]:
    """The fine model's metrics (on every query, and on Qmax's queries: empty when none), its
    per-query metrics, per-query rankings, distance histograms, and its `(N, N)` track distances
    (the re-rank's first stage), via the index."""
    perf_ids = list(gallery_embeddings.perf_id)
    work_ids = list(gallery_embeddings.work_id)
    position = {perf_id: i for i, perf_id in enumerate(perf_ids)}
    search = evaluation["search"]
    found = index_track_distances(
        gallery_index,
        embedding_matrix(gallery_chunks),
        gallery_chunks.perf_id.map(position).to_numpy(),
        len(perf_ids),
        perf_ids,
        k_chunks=search["k_chunks"],
        batch_tracks=search["batch_tracks"],
    )
    per_query = per_query_metrics(found.distances, work_ids, work_ids, perf_ids, perf_ids)
    bootstrap = _bootstrap(evaluation, seed)
    metrics = summarize(per_query, bootstrap)
    on_qmax_queries = _on_queries(found.distances, work_ids, perf_ids, qmax_queries, bootstrap)
    starts = gallery_chunks.start_s.to_numpy()
    index_starts = gallery_index.chunk_starts_s
    rankings = ranking_table(
        found.distances,
        perf_ids,
        work_ids,
        perf_ids,
        work_ids,
        top_n=evaluation["rankings_top_n"],
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
        off_diagonal, works[:, None] == works[None, :], bins=evaluation["plots"]["histogram_bins"]
    )
    return metrics, on_qmax_queries, per_query, rankings, histograms, found.distances


def _embed_split(
    fine_model: dict,
    cqt_features: FeatureStore,
    performances: pd.DataFrame,
    rerank: RerankSettings,
    indexing: dict,
    feature_cqt: dict,
    device: str,
) -> tuple[torch.Tensor, list]:
    """The fine model's first-stage `(N, N)` distances of `performances` (45 s chunks, as the
    gallery) and their re-rank sequences."""
    cqt = CQTConfig(**feature_cqt["cqt"])
    target = resolve_device(device)
    model = fine_model["model"].to(target).eval()
    embed = inference_embed_fn(model, indexing["precision"], target)
    tracks = TrackSet(
        list(performances.perf_id), list(performances.work_id), cqt_features.float32()
    )
    chunk_frames, min_tail = ChunkSettings(indexing["chunk_s"], indexing["min_tail_s"]).frames(
        cqt.frame_rate, model.min_frames
    )
    chunks = EmbedSettings(chunk_frames, cqt.frame_rate, indexing["batch_size"], target, min_tail)
    window, window_tail = ChunkSettings(rerank.window_s, rerank.hop_s).frames(
        cqt.frame_rate, model.min_frames
    )
    steps = EmbedSettings(
        window,
        cqt.frame_rate,
        indexing["batch_size"],
        target,
        window_tail,
        hop_frames=round(rerank.hop_s * cqt.frame_rate),
    )
    n = len(performances)
    distances = all_against_all_distances(embed_tracks(embed, tracks, chunks), n)
    return distances, track_sequences(embed_tracks(embed, tracks, steps), n)


def calibrate_decision(
    manifest: pd.DataFrame,
    cqt_features: FeatureStore,
    fine_model: dict,
    evaluation: dict,
    rerank: dict,
    indexing: dict,
    feature_cqt: dict,
    device: str,
) -> dict:
    """The fusion weight and the decision thresholds, fitted on the validation works
    (`evaluation.calibration`, see evaluation/calibration.py); stored beside the index. Without
    two validation works of two versions each: the parameter's weight and no thresholds."""
    settings = RerankSettings(**rerank)
    calibration = evaluation["calibration"]
    rows = manifest[manifest.split.isin(calibration["splits"])]
    rows = rows[rows.perf_id.isin(set(cqt_features.table.perf_id))]
    versions = rows.work_id.value_counts()
    rows = rows[rows.work_id.isin(versions[versions > 1].index)].reset_index(drop=True)
    if rows.work_id.nunique() < 2:
        logger.warning(
            "no calibration: splits %s hold fewer than two works with two versions; fusion weight "
            "%.2f from the parameters, no decision thresholds",
            calibration["splits"],
            settings.fusion_weight,
        )
        return {"fusion_weight": settings.fusion_weight, "thresholds": {}, "n_queries": 0}
    distances, sequences = _embed_split(
        fine_model, cqt_features, rows, settings, indexing, feature_cqt, device
    )
    perf_ids, work_ids = list(rows.perf_id), list(rows.work_id)
    itself = torch.eye(len(rows), dtype=torch.bool)
    ranked = rerank_matrix(distances, sequences, sequences, settings, exclude=itself)
    weight, map_by_weight = best_fusion_weight(
        ranked, work_ids, perf_ids, calibration["fusion_weights"]
    )
    # An impostor: each query's best answer with its own work out of the gallery.
    works = np.asarray(work_ids)
    own_work = torch.as_tensor(works[:, None] == works[None, :])
    impostor = rerank_matrix(distances, sequences, sequences, settings, exclude=own_work)
    impostor_scores, _ = best_scores(impostor.distances(weight), own_work)
    thresholds = fit_thresholds(impostor_scores, calibration["false_accept_rates"])
    logger.info(
        "calibration on %d %s performances: fusion weight %.2f (mAP by weight %s), thresholds %s",
        len(rows),
        "/".join(calibration["splits"]),
        weight,
        {w: round(m, 3) for w, m in map_by_weight.items()},
        {name: round(t["threshold"], 4) for name, t in thresholds.items()},
    )
    return {
        "fusion_weight": weight,
        "map_by_fusion_weight": {f"{w:g}": m for w, m in map_by_weight.items()},
        "thresholds": thresholds,
        "n_queries": len(rows),
        "splits": list(calibration["splits"]),
    }


def score_reranked(
    fine_track_distances: torch.Tensor,
    gallery_embeddings: pd.DataFrame,
    gallery_sequences: pd.DataFrame,
    fine_rankings: pd.DataFrame,
    decision_calibration: dict,
    qmax_queries: list,
    manifest: pd.DataFrame,
    evaluation: dict,
    rerank: dict,
    seed: int,
) -> tuple[dict, dict, pd.DataFrame, dict]:
    """The two-stage search on the gallery: the `fine+rerank` row (every query; Qmax's queries),
    the rankings with where each shortlisted pair matches, and the two-stage report (match
    location against `true_offset_s`; the open-set check at the calibrated thresholds)."""
    settings = RerankSettings(**{**rerank, "fusion_weight": decision_calibration["fusion_weight"]})
    bootstrap = _bootstrap(evaluation, seed)
    perf_ids, work_ids = list(gallery_embeddings.perf_id), list(gallery_embeddings.work_id)
    sequences = sequences_from_table(gallery_sequences, perf_ids)
    itself = torch.eye(len(perf_ids), dtype=torch.bool)
    ranked = rerank_matrix(fine_track_distances, sequences, sequences, settings, exclude=itself)
    distances = ranked.distances(settings.fusion_weight)
    metrics = mirex_metrics(distances, work_ids, work_ids, perf_ids, perf_ids, bootstrap=bootstrap)
    on_qmax_queries = _on_queries(distances, work_ids, perf_ids, qmax_queries, bootstrap)

    ids, works = np.asarray(perf_ids), np.asarray(work_ids)
    candidates = ids[ranked.shortlist.numpy()]
    same_work = works[ranked.shortlist.numpy()] == works[:, None]
    truth = (
        manifest.set_index("perf_id").true_offset_s.dropna().to_dict()
        if "true_offset_s" in manifest.columns
        else {}
    )
    # the pair each query ranks first by the final score (its answer), inside its shortlist
    first = ranked.shortlist.numpy() == distances.argmin(1, keepdim=True).numpy()
    location = match_location_report(
        perf_ids, candidates, same_work, ranked.segments, truth, settings.hop_s, first
    )
    report = {"match_location": location}
    if decision_calibration["thresholds"] and len(set(work_ids)) > 1:
        held_out = held_out_works(work_ids, evaluation["open_set"]["held_out_fraction"], seed)
        exclude = open_set_exclusion(work_ids, perf_ids, held_out)
        open_ranked = rerank_matrix(fine_track_distances, sequences, sequences, settings, exclude)
        report["open_set"] = open_set_report(
            open_ranked.distances(settings.fusion_weight),
            work_ids,
            perf_ids,
            held_out,
            decision_calibration["thresholds"],
            bootstrap,
        )
    rankings = _with_matches(fine_rankings, ranked, candidates, perf_ids, distances)
    return metrics, on_qmax_queries, rankings, report


def _with_matches(
    rankings: pd.DataFrame, ranked, candidates: np.ndarray, perf_ids: list, distances
) -> pd.DataFrame:
    """`rankings` plus, for pairs in the shortlist, the final distance, the alignment score and
    where the two match (query_match_start_s/_end_s, ref_match_start_s/_end_s; NaN elsewhere)."""
    rows = {
        (perf_ids[q], candidates[q, k]): (q, k)
        for q in range(candidates.shape[0])
        for k in range(candidates.shape[1])
    }
    where = [
        rows.get(pair) for pair in zip(rankings.query_perf_id, rankings.ref_perf_id, strict=True)
    ]
    position = {perf_id: i for i, perf_id in enumerate(perf_ids)}
    columns = {
        "query_match_start_s": "query_start_s",
        "query_match_end_s": "query_end_s",
        "ref_match_start_s": "match_start_s",
        "ref_match_end_s": "match_end_s",
    }
    out = rankings.copy()
    out["reranked_distance"] = [
        float(distances[position[q], position[r]]) if w is not None else np.nan
        for w, q, r in zip(where, rankings.query_perf_id, rankings.ref_perf_id, strict=True)
    ]
    out["alignment_score"] = [
        float(ranked.alignment_score[w]) if w is not None else np.nan for w in where
    ]
    for column, key in columns.items():
        out[column] = [float(ranked.segments[key][w]) if w is not None else np.nan for w in where]
    return out


def report_variation_map(
    fine_query_metrics: QueryMetrics, gallery_embeddings: pd.DataFrame, manifest: pd.DataFrame
) -> pd.DataFrame:
    """The fine model's mAP with and without each kind of variation the manifest records
    (`var_*` columns; empty for collections that record none)."""
    return map_by_variation(fine_query_metrics, list(gallery_embeddings.perf_id), manifest)


def score_qmax_baseline(
    gallery_embeddings: pd.DataFrame,
    manifest: pd.DataFrame,
    qmax_queries: list,
    evaluation: dict,
    feature_cqt: dict,
    ingest: dict,
    seed: int,
) -> dict:
    """The classical baseline's row: HPCP of every gallery performance from its audio (once
    each), then Qmax of each of `qmax_queries` against all others, timed. Empty when no queries."""
    if not qmax_queries:
        logger.info("qmax baseline off (evaluation.qmax.max_queries is 0)")
        return {}
    qmax = evaluation["qmax"]
    sample_rate = feature_cqt["cqt"]["sample_rate"]
    perf_ids = list(gallery_embeddings.perf_id)
    path_of = manifest.set_index("perf_id").path
    started = time.perf_counter()
    hpcps = {
        perf_id: hpcp_features(
            peak_normalise(load_audio(path_of[perf_id], sample_rate, ingest["max_duration_s"])),
            sample_rate,
            **qmax["hpcp"],
        )
        for perf_id in perf_ids
    }
    seconds_hpcp = time.perf_counter() - started
    row = score_qmax(
        hpcps,
        perf_ids,
        list(gallery_embeddings.work_id),
        qmax_queries,
        QmaxSettings(**qmax["alignment"]),
        _bootstrap(evaluation, seed),
    )
    row = {
        **row,
        "seconds_hpcp": seconds_hpcp,
        "seconds_total": seconds_hpcp + row["seconds_pairs"],
    }
    logger.info(
        "qmax: %d queries x %d performances, %d pairs, %.4f s per pair, %.1f s in all",
        row["n_queries"],
        len(perf_ids),
        row["n_pairs"],
        row["seconds_per_pair"],
        row["seconds_total"],
    )
    return row


def plot_embedding_map(gallery_embeddings: pd.DataFrame, evaluation: dict, seed: int) -> Figure:
    """The fine model's track embeddings in 2-D, one colour per work (paper Fig. 3)."""
    return embedding_map(
        np.stack(gallery_embeddings.embedding.to_numpy()),
        list(gallery_embeddings.work_id),
        seed=seed,
        method=evaluation["plots"]["embedding_method"],
    )


def report_metrics(
    reference_scores: dict,
    fine_scores: dict,
    qmax_scores: dict,
    reference_scores_on_qmax_queries: dict,
    fine_scores_on_qmax_queries: dict,
    rerank_scores: dict,
    rerank_scores_on_qmax_queries: dict,
    two_stage_report: dict,
) -> tuple[dict, dict]:
    """-> (evaluation_metrics, the same as MLflow metrics `eval/<model>/<metric>`).

    evaluation_metrics is `{model: row}` (each row with `ci95`; the qmax row, when scored, also
    holds its timing), plus `same_queries_as_qmax: {model: row}`, every model on Qmax's queries,
    logged as `eval/same_queries_as_qmax/<model>/<metric>`, then the two-stage search's
    `match_location` and, when thresholds were fitted, `open_set` (see score_reranked).
    """
    results = {**reference_scores, "fine": fine_scores, RERANKED: rerank_scores}
    if qmax_scores:
        results["qmax"] = qmax_scores
    results = _in_model_order(results)
    logger.info("evaluation (MIREX protocol, every gallery performance a query):")
    for line in results_table(results).splitlines():  # one record a line: log handlers wrap
        logger.info("  %s", line)
    metrics = metric_items(results, "eval")
    if qmax_scores:
        same = {
            **reference_scores_on_qmax_queries,
            "fine": fine_scores_on_qmax_queries,
            RERANKED: rerank_scores_on_qmax_queries,
        }
        same = _in_model_order(same)
        same["qmax"] = {key: qmax_scores[key] for key in (*MIREX_KEYS, "ci95")}
        logger.info("the same %d queries as qmax:", qmax_scores["n_queries"])
        for line in results_table(same).splitlines():
            logger.info("  %s", line)
        for key in QMAX_TIMING:
            metrics[mlflow_metric_name("eval", "qmax", key)] = float(qmax_scores[key])
        metrics.update(metric_items(same, mlflow_metric_name("eval", SAME_QUERIES)))
        results[SAME_QUERIES] = same
    results.update(two_stage_report)
    location = two_stage_report["match_location"]
    if location["n_pairs"]:
        logger.info(
            "match starts within one hop (%.1f s) of the truth: %.3f of %d true pairs, %s of the "
            "%s ranked first",
            location["hop_s"],
            location["start_within_hop_share"],
            location["n_pairs"],
            location.get("start_within_hop_share_ranked_first"),
            location.get("n_pairs_ranked_first"),
        )
        metrics["eval/match_location/start_within_hop_share"] = location["start_within_hop_share"]
        if location.get("start_within_hop_share_ranked_first") is not None:
            metrics["eval/match_location/start_within_hop_share_ranked_first"] = location[
                "start_within_hop_share_ranked_first"
            ]
    for name, row in two_stage_report.get("open_set", {}).get("thresholds", {}).items():
        for rate in ("false_accept", "true_accept"):
            if row[rate]["share"] is not None:
                metrics[mlflow_metric_name("eval", "open_set", name, rate)] = row[rate]["share"]
    history = {name: {"value": value, "step": 0} for name, value in metrics.items()}
    return results, history


def register_fine_model(
    fine_model: dict,
    evaluation_metrics: dict,
    gallery_embeddings: pd.DataFrame,
    cqt_features: FeatureStore,
    registry: dict,
    indexing: dict,
    feature_cqt: dict,
    collection: str,
) -> dict:
    """Log the fine model as an MLflow pyfunc and register it (name from parameters); the alias
    moves to it only when it beats the current holder on the same queries
    (`evaluation.registry.promote`, see evaluation/champion.py). The run records why."""
    if not registry["enabled"]:
        logger.info("model registry disabled (evaluation.registry.enabled is false)")
        return {"registered": False}
    fingerprint_of = cqt_features.table.set_index("perf_id").fingerprint
    perf_ids = list(gallery_embeddings.perf_id)
    tags = metric_tags(
        evaluation_metrics["fine"],
        queries_fingerprint(
            perf_ids, list(gallery_embeddings.work_id), fingerprint_of[perf_ids].tolist()
        ),
        collection,
    )
    alias = registry["alias"]
    if alias:
        holder = alias_version(registry["name"], alias)
        holder_version, holder_tags = holder if holder else (None, None)
        decision = decide_promotion(tags, holder_tags, holder_version, registry["promote"])
    else:
        decision = Promotion(False, "evaluation.registry.alias is null")
    info = log_and_register(
        fine_model["model"],
        fine_model.get("metadata", {}),
        CQTConfig(**feature_cqt["cqt"]),
        ChunkSettings(indexing["chunk_s"], indexing["min_tail_s"]),
        indexing["batch_size"],
        name=registry["name"],
        alias=alias,
        tags=tags,
        promote=decision.promote,
        reason=decision.reason,
    )
    return {"registered": True, **info}
