"""evaluation: every gallery performance a query against the others (MIREX), four models side by side.

The fine model is scored through the faiss gallery index, the path a user's query takes; the
untrained model (the fine model's architecture, fresh weights), the coarse model and the chroma
baseline are scored on the same tracks and the same 45 s chunks, directly.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from coverhunter.audio.cqt import CQTConfig
from coverhunter.data.features import load_features
from coverhunter.device import resolve_device
from coverhunter.evaluation.baselines import ChromaBaseline
from coverhunter.evaluation.collection import TrackSet, score_embedder
from coverhunter.evaluation.metrics import mirex_metrics
from coverhunter.evaluation.plots import distance_histograms, embedding_map
from coverhunter.evaluation.rankings import ranking_table
from coverhunter.evaluation.report import metric_items, results_table
from coverhunter.model.coverhunter import CoverHunter
from coverhunter.retrieval.chunk_table import embedding_matrix
from coverhunter.retrieval.gallery import ChunkSettings
from coverhunter.retrieval.index import ChunkIndex
from coverhunter.retrieval.index_distances import index_track_distances
from coverhunter.serving.pyfunc import log_and_register

logger = logging.getLogger(__name__)

MODEL_ORDER = ("untrained", "chroma_baseline", "coarse", "fine")


def score_reference_models(
    gallery_embeddings: pd.DataFrame,
    cqt_features: dict,
    coarse_model: dict,
    fine_model: dict,
    indexing: dict,
    evaluation: dict,
    feature_cqt: dict,
    seed: int,
    device: str,
) -> dict:
    """MIREX metrics of the untrained model, the chroma baseline and the coarse model."""
    cqt = CQTConfig(**feature_cqt["cqt"])
    target = resolve_device(device)
    perf_ids = list(gallery_embeddings.perf_id)
    tracks = TrackSet(
        perf_ids, list(gallery_embeddings.work_id), load_features(cqt_features, perf_ids)
    )
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
    min_frames = min(m.min_frames for m in (untrained, coarse_model["model"]))
    chunk_frames, min_tail_frames = ChunkSettings(
        indexing["chunk_s"], indexing["min_tail_s"]
    ).frames(cqt.frame_rate, min_frames)
    return {
        name: score_embedder(
            embedder.embed,
            tracks,
            chunk_frames,
            cqt.frame_rate,
            indexing["batch_size"],
            target,
            min_tail_frames,
        )
        for name, embedder in embedders.items()
    }


def score_fine_model(
    gallery_chunks: pd.DataFrame,
    gallery_embeddings: pd.DataFrame,
    gallery_index: ChunkIndex,
    evaluation: dict,
) -> tuple[dict, pd.DataFrame, Figure]:
    """The fine model's metrics, per-query rankings and distance histograms, via the index."""
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
    metrics = mirex_metrics(found.distances, work_ids, work_ids, perf_ids, perf_ids)
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
    return metrics, rankings, histograms


def plot_embedding_map(gallery_embeddings: pd.DataFrame, evaluation: dict, seed: int) -> Figure:
    """The fine model's track embeddings in 2-D, one colour per work (paper Fig. 3)."""
    return embedding_map(
        np.stack(gallery_embeddings.embedding.to_numpy()),
        list(gallery_embeddings.work_id),
        seed=seed,
        method=evaluation["plots"]["embedding_method"],
    )


def report_metrics(reference_scores: dict, fine_scores: dict) -> tuple[dict, dict]:
    """-> (evaluation_metrics {model: row}, the same as MLflow metrics `eval/<model>/<metric>`)."""
    results = {**reference_scores, "fine": fine_scores}
    results = {name: results[name] for name in MODEL_ORDER if name in results}
    logger.info("evaluation (MIREX protocol, every gallery performance a query):")
    for line in results_table(results).splitlines():  # one record a line: log handlers wrap
        logger.info("  %s", line)
    history = {
        name: {"value": value, "step": 0} for name, value in metric_items(results, "eval").items()
    }
    return results, history


def register_fine_model(
    fine_model: dict,
    evaluation_metrics: dict,
    registry: dict,
    indexing: dict,
    feature_cqt: dict,
) -> dict:
    """Log the fine model as an MLflow pyfunc and register it (name and alias from parameters)."""
    if not registry["enabled"]:
        logger.info("model registry disabled (evaluation.registry.enabled is false)")
        return {"registered": False}
    fine = evaluation_metrics["fine"]
    info = log_and_register(
        fine_model["model"],
        fine_model.get("metadata", {}),
        CQTConfig(**feature_cqt["cqt"]),
        ChunkSettings(indexing["chunk_s"], indexing["min_tail_s"]),
        indexing["batch_size"],
        name=registry["name"],
        alias=registry["alias"],
        tags={
            f"eval_{key}".replace("@", "_at_"): str(fine[key])
            for key in ("mAP", "MR1", "hit_rate", "P@10")
        },
    )
    return {"registered": True, **info}
