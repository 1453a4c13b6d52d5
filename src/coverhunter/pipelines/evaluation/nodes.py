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
    score_embedders,
    track_sequences,
)
from coverhunter.evaluation.index_scores import score_through_index
from coverhunter.evaluation.metrics import QueryMetrics
from coverhunter.evaluation.plots import embedding_map
from coverhunter.evaluation.qmax import (
    INSTALL_HINT,
    QmaxSettings,
    essentia_available,
    hpcp_features,
    score_qmax,
    stratified_queries,
)
from coverhunter.evaluation.report import RERANKED, evaluation_results
from coverhunter.evaluation.two_stage import fit_decision, rankings_with_matches, score_two_stage
from coverhunter.model.baselines import ChromaBaseline
from coverhunter.model.coverhunter import CoverHunter
from coverhunter.retrieval.embed import inference_embed_fn
from coverhunter.retrieval.gallery import ChunkSettings
from coverhunter.retrieval.index import ChunkIndex
from coverhunter.retrieval.pitch_rerank import PitchSettings, chromas_from_table
from coverhunter.retrieval.rerank import RerankSettings, sequences_from_table
from coverhunter.serving.chroma import performance_chromas
from coverhunter.serving.pyfunc import alias_version, log_and_register, version_tagged

logger = logging.getLogger(__name__)
# the registry tag naming the shipped weights (their sha256), so each is registered once
SHIPPED_SHA_TAG = "weights_sha256"


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


def _bootstrap(evaluation: dict, seed: int) -> Bootstrap:
    """The intervals' settings: `evaluation.bootstrap`, seeded by the run's seed (every row is
    resampled alike, so rows on the same queries compare pairwise)."""
    return Bootstrap(n_boot=evaluation["bootstrap"]["n_boot"], seed=seed)


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
            octaves=chroma.get("octaves"),
        ).to(target),
        "coarse": coarse_model["model"].to(target).eval(),
    }
    if pretrained_model["model"] is not None:
        embedders["pretrained"] = pretrained_model["model"].to(target).eval()
    min_frames = min(m.min_frames for name, m in embedders.items() if name != "chroma_baseline")
    chunk_frames, min_tail_frames = ChunkSettings(
        indexing["chunk_s"], indexing["min_tail_s"]
    ).frames(cqt.frame_rate, min_frames)
    settings = EmbedSettings(
        chunk_frames, cqt.frame_rate, indexing["batch_size"], target, min_tail_frames
    )
    return score_embedders(embedders, tracks, settings, qmax_queries, _bootstrap(evaluation, seed))


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
    (the re-rank's first stage), via the index (evaluation/index_scores.py)."""
    scores = score_through_index(
        gallery_index,
        gallery_chunks,
        list(gallery_embeddings.perf_id),
        list(gallery_embeddings.work_id),
        qmax_queries,
        evaluation["search"],
        evaluation["rankings_top_n"],
        evaluation["plots"]["histogram_bins"],
        _bootstrap(evaluation, seed),
    )
    return (
        scores.metrics,
        scores.on_qmax_queries,
        scores.per_query,
        scores.rankings,
        scores.histograms,
        scores.distances,
    )


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
    ingest: dict,
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
        return {
            "fusion_weight": settings.fusion_weight,
            "pitch_weight": PitchSettings.of(settings.pitch).weight,
            "thresholds": {},
            "n_queries": 0,
        }
    distances, sequences = _embed_split(
        fine_model, cqt_features, rows, settings, indexing, feature_cqt, device
    )
    pitch = PitchSettings.of(settings.pitch)
    features = cqt_features.float32()
    chromas = (
        performance_chromas(
            list(rows.perf_id),
            lambda perf_id: features[perf_id],
            manifest.set_index("perf_id").path,
            int(feature_cqt["cqt"]["sample_rate"]),
            ingest.get("max_duration_s"),
            pitch,
        )
        if pitch.enabled
        else None
    )
    decision = fit_decision(
        distances,
        sequences,
        chromas,
        list(rows.work_id),
        list(rows.perf_id),
        settings,
        calibration["fusion_weights"],
        calibration.get("pitch_weights", [pitch.weight]),
        calibration["false_accept_rates"],
    )
    by_pair = decision.map_by_weights
    logger.info(
        "calibration on %d %s performances: fusion weight %.2f, pitch weight %.2f (mAP by "
        "weights %s), thresholds %s",
        len(rows),
        "/".join(calibration["splits"]),
        decision.fusion_weight,
        decision.pitch_weight,
        {f"{w:g}/{p:g}": round(m, 3) for (w, p), m in by_pair.items()},
        {name: round(t["threshold"], 4) for name, t in decision.thresholds.items()},
    )
    return {
        "fusion_weight": decision.fusion_weight,
        "pitch_weight": decision.pitch_weight,
        "map_by_fusion_weight": {
            f"{w:g}": m for (w, p), m in by_pair.items() if p == decision.pitch_weight
        },
        "map_by_pitch_weight": {
            f"{p:g}": m for (w, p), m in by_pair.items() if w == decision.fusion_weight
        },
        "thresholds": decision.thresholds,
        "n_queries": len(rows),
        "splits": list(calibration["splits"]),
    }


def _chroma_frame_s(pitch: PitchSettings, feature_cqt: dict) -> float:
    """Seconds between two frames of the pitch stage's chroma, as `feature_cqt` makes them."""
    cqt = CQTConfig(**feature_cqt["cqt"])
    return pitch.frame_s(cqt.sample_rate, cqt.frame_rate)


def _calibrated(rerank: dict, decision_calibration: dict) -> RerankSettings:
    """The re-rank's settings with the weights fitted on the validation works."""
    pitch = {**(rerank.get("pitch") or {})}
    if "pitch_weight" in decision_calibration:
        pitch["weight"] = decision_calibration["pitch_weight"]
    return RerankSettings(
        **{**rerank, "fusion_weight": decision_calibration["fusion_weight"], "pitch": pitch}
    )


def score_reranked(
    fine_track_distances: torch.Tensor,
    gallery_embeddings: pd.DataFrame,
    gallery_sequences: pd.DataFrame,
    gallery_chroma: pd.DataFrame,
    fine_rankings: pd.DataFrame,
    decision_calibration: dict,
    qmax_queries: list,
    manifest: pd.DataFrame,
    evaluation: dict,
    rerank: dict,
    feature_cqt: dict,
    seed: int,
) -> tuple[dict, dict, pd.DataFrame, dict]:
    """The two-stage search on the gallery (evaluation/two_stage.py): the `fine+rerank` row
    (every query; Qmax's queries), the rankings with where each shortlisted pair matches, and
    the two-stage report (match location against `true_offset_s`; the open-set check at the
    calibrated thresholds)."""
    settings = _calibrated(rerank, decision_calibration)
    perf_ids, work_ids = list(gallery_embeddings.perf_id), list(gallery_embeddings.work_id)
    pitch_on = PitchSettings.of(settings.pitch).enabled
    truth = (
        manifest.set_index("perf_id").true_offset_s.dropna().to_dict()
        if "true_offset_s" in manifest.columns
        else {}
    )
    scores = score_two_stage(
        fine_track_distances,
        sequences_from_table(gallery_sequences, perf_ids),
        chromas_from_table(gallery_chroma, perf_ids) if pitch_on else None,
        work_ids,
        perf_ids,
        settings,
        decision_calibration["thresholds"],
        truth,
        qmax_queries,
        evaluation["open_set"]["held_out_fraction"],
        _bootstrap(evaluation, seed),
        seed,
        _chroma_frame_s(PitchSettings.of(settings.pitch), feature_cqt),
    )
    rankings = rankings_with_matches(fine_rankings, scores, perf_ids)
    return scores.metrics, scores.on_qmax_queries, rankings, scores.report


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
    """-> (evaluation_metrics, the same as MLflow metrics `eval/<model>/<metric>`); see
    `evaluation/report.py`'s `evaluation_results`."""
    results, metrics = evaluation_results(
        {**reference_scores, "fine": fine_scores, RERANKED: rerank_scores},
        {
            **reference_scores_on_qmax_queries,
            "fine": fine_scores_on_qmax_queries,
            RERANKED: rerank_scores_on_qmax_queries,
        },
        qmax_scores,
        two_stage_report,
    )
    history = {name: {"value": value, "step": 0} for name, value in metrics.items()}
    return results, history


def _queries_fingerprint(gallery_embeddings: pd.DataFrame, cqt_features: FeatureStore) -> str:
    """The fingerprint of this evaluation's queries (ids, works and the audio behind them)."""
    fingerprint_of = cqt_features.table.set_index("perf_id").fingerprint
    perf_ids = list(gallery_embeddings.perf_id)
    return queries_fingerprint(
        perf_ids, list(gallery_embeddings.work_id), fingerprint_of[perf_ids].tolist()
    )


def _log_and_register(
    model_entry: dict,
    indexing: dict,
    feature_cqt: dict,
    name: str,
    alias: str | None,
    tags: dict,
    decision: Promotion,
) -> dict:
    """`log_and_register` of a catalog model entry, with the run's CQT and chunking settings."""
    return log_and_register(
        model_entry["model"],
        model_entry.get("metadata", {}),
        CQTConfig(**feature_cqt["cqt"]),
        ChunkSettings(indexing["chunk_s"], indexing["min_tail_s"]),
        indexing["batch_size"],
        name=name,
        alias=alias,
        tags=tags,
        promote=decision.promote,
        reason=decision.reason,
    )


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
    tags = metric_tags(
        evaluation_metrics["fine"],
        _queries_fingerprint(gallery_embeddings, cqt_features),
        collection,
    )
    alias = registry["alias"]
    if alias:
        holder = alias_version(registry["name"], alias)
        holder_version, holder_tags = holder if holder else (None, None)
        decision = decide_promotion(tags, holder_tags, holder_version, registry["promote"])
    else:
        decision = Promotion(False, "evaluation.registry.alias is null")
    info = _log_and_register(
        fine_model, indexing, feature_cqt, registry["name"], alias, tags, decision
    )
    return {"registered": True, **info}


def register_shipped_model(
    pretrained_model: dict,
    evaluation_metrics: dict,
    gallery_embeddings: pd.DataFrame,
    cqt_features: FeatureStore,
    registry: dict,
    indexing: dict,
    feature_cqt: dict,
    collection: str,
) -> dict:
    """Register the shipped pretrained model in MLflow as `registry.shipped_name`, once per
    weights (a version tagged with the same `weights_sha256` is kept, not registered again),
    tagged with its zero-shot metrics on this run's queries when the evaluation scored it. No
    alias: the champion is the trained fine model's."""
    if not registry["enabled"] or pretrained_model["model"] is None:
        reason = "registry disabled" if not registry["enabled"] else "no model is shipped"
        logger.info("shipped model not registered: %s", reason)
        return {"registered": False, "reason": reason}
    name, metadata = registry["shipped_name"], pretrained_model.get("metadata", {})
    sha = metadata.get("weights_sha256", "")
    known = version_tagged(name, SHIPPED_SHA_TAG, sha) if sha else None
    if known is not None:
        logger.info("shipped model %s already registered as %s version %s", sha[:12], name, known)
        return {"registered": False, "reason": "already registered", "name": name, "version": known}
    tags = {SHIPPED_SHA_TAG: sha}
    if "pretrained" in evaluation_metrics:
        fingerprint = _queries_fingerprint(gallery_embeddings, cqt_features)
        tags.update(metric_tags(evaluation_metrics["pretrained"], fingerprint, collection))
    info = _log_and_register(
        pretrained_model,
        indexing,
        feature_cqt,
        name,
        None,
        tags,
        Promotion(False, "the shipped model takes no alias"),
    )
    return {"registered": True, **info}
