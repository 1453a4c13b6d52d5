"""indexing: the gallery's 45 s chunk embeddings by the fine model, and a faiss index over them.

A performance already in the last run's gallery, with the same features, model and settings,
keeps its stored embeddings: only new or changed performances are embedded.
"""

from __future__ import annotations

import logging

import pandas as pd

from coverhunter.audio.cqt import CQTConfig
from coverhunter.data.feature_store import FeatureStore
from coverhunter.device import resolve_device
from coverhunter.retrieval.chunk_table import embed_chunk_table
from coverhunter.retrieval.embed import inference_embed_fn
from coverhunter.retrieval.fingerprint import model_fingerprint
from coverhunter.retrieval.gallery import (
    ChunkSettings,
    gallery_performances,
    index_from_table,
    index_info,
    merge_gallery,
    split_reusable,
    track_embeddings,
    with_fingerprints,
)
from coverhunter.retrieval.index import ChunkIndex
from coverhunter.retrieval.pitch_rerank import PitchSettings, chroma_table
from coverhunter.retrieval.rerank import RerankSettings
from coverhunter.serving.chroma import performance_chromas

logger = logging.getLogger(__name__)


def _settings(indexing: dict, cqt: CQTConfig) -> dict:
    """Everything besides the model that shapes a gallery embedding."""
    return {
        "cqt": cqt.to_dict(),
        "chunk_s": indexing["chunk_s"],
        "min_tail_s": indexing["min_tail_s"],
    }


def _pitch_chroma(pitch: PitchSettings) -> dict:
    """The settings that shape a stored chroma sequence (`chroma_sequence`)."""
    return {
        "source": pitch.source,
        "chroma": dict(pitch.chroma),
        "average_frames": pitch.average_frames,
    }


def embed_gallery(
    manifest: pd.DataFrame,
    cqt_features: FeatureStore,
    previous_chunks: pd.DataFrame,
    fine_model: dict,
    gallery_splits: list[str],
    indexing: dict,
    feature_cqt: dict,
    device: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """-> (gallery_chunks: one row per chunk, gallery_embeddings: one row per performance)."""
    cqt = CQTConfig(**feature_cqt["cqt"])
    target = resolve_device(device)
    model = fine_model["model"].to(target).eval()
    wanted = with_fingerprints(
        gallery_performances(manifest, gallery_splits, cqt_features.table),
        model_fingerprint(model, model.config.to_dict()),
        _settings(indexing, cqt),
    )
    kept, todo = split_reusable(previous_chunks, wanted)
    logger.info(
        "gallery of %d performances: %d kept from the last run, %d to embed",
        len(wanted),
        kept.perf_id.nunique(),
        len(todo),
    )
    features = cqt_features.float32()
    new = pd.DataFrame()
    if len(todo):
        chunk_frames, min_tail_frames = ChunkSettings(
            indexing["chunk_s"], indexing["min_tail_s"]
        ).frames(cqt.frame_rate, model.min_frames)
        new = embed_chunk_table(
            inference_embed_fn(model, indexing["precision"], target),
            todo,
            features,
            chunk_frames=chunk_frames,
            hop_frames=chunk_frames,
            frame_rate=cqt.frame_rate,
            min_tail_frames=min_tail_frames,
            batch_size=indexing["batch_size"],
            device=target,
        )
        new["fingerprint"] = new.perf_id.map(dict(zip(todo.perf_id, todo.fingerprint, strict=True)))
    table = merge_gallery(wanted, kept, new)
    return table, track_embeddings(table)


def embed_gallery_sequences(
    gallery_embeddings: pd.DataFrame,
    cqt_features: FeatureStore,
    fine_model: dict,
    rerank: dict,
    indexing: dict,
    feature_cqt: dict,
    device: str,
) -> pd.DataFrame:
    """The gallery performances as sequences of `rerank.window_s` chunk embeddings every
    `rerank.hop_s` (what the re-rank aligns; retrieval/rerank.py says why they are stored)."""
    cqt = CQTConfig(**feature_cqt["cqt"])
    settings = RerankSettings(**rerank)
    target = resolve_device(device)
    model = fine_model["model"].to(target).eval()
    window, min_tail = ChunkSettings(settings.window_s, settings.hop_s).frames(
        cqt.frame_rate, model.min_frames
    )
    return embed_chunk_table(
        inference_embed_fn(model, indexing["precision"], target),
        gallery_embeddings[["perf_id", "work_id"]],
        cqt_features.float32(),
        chunk_frames=window,
        hop_frames=round(settings.hop_s * cqt.frame_rate),
        frame_rate=cqt.frame_rate,
        min_tail_frames=min_tail,
        batch_size=indexing["batch_size"],
        device=target,
    )


def chroma_gallery(
    gallery_embeddings: pd.DataFrame,
    cqt_features: FeatureStore,
    manifest: pd.DataFrame,
    rerank: dict,
    feature_cqt: dict,
    ingest: dict,
) -> pd.DataFrame:
    """The gallery performances' chroma sequences (what the re-rank's pitch stage aligns,
    `retrieval/pitch_rerank.py`; stored for the reason the sequences are): from their stored CQT,
    or for `rerank.pitch.source: hpcp` from their audio (`serving/chroma.py`); none (an empty
    table) when the stage is off."""
    settings = PitchSettings.of(rerank.get("pitch"))
    if not settings.enabled:  # nothing to align: no chroma made (HPCP reads every recording)
        return chroma_table([], [], [])
    perf_ids = list(gallery_embeddings.perf_id)
    features = cqt_features.float32()
    chromas = performance_chromas(
        perf_ids,
        lambda perf_id: features[perf_id],
        manifest.set_index("perf_id").path,
        int(feature_cqt["cqt"]["sample_rate"]),
        ingest.get("max_duration_s"),
        settings,
    )
    return chroma_table(perf_ids, list(gallery_embeddings.work_id), chromas)


def build_gallery_index(
    gallery_chunks: pd.DataFrame, fine_model: dict, indexing: dict, feature_cqt: dict, rerank: dict
) -> tuple[ChunkIndex, dict]:
    """The faiss index of the gallery's chunks, and what built it (model fingerprint and source,
    settings, and the re-rank sequences' window and hop)."""
    cqt = CQTConfig(**feature_cqt["cqt"])
    model = fine_model["model"]
    chunk_index = index_from_table(gallery_chunks, indexing["index"])
    settings = RerankSettings(**rerank)
    info = index_info(
        chunk_index,
        model_fingerprint(model, model.config.to_dict()),
        {
            **_settings(indexing, cqt),
            "index_type": indexing["index"]["type"],
            "sequences": {"window_s": settings.window_s, "hop_s": settings.hop_s},
            # how the stored chromas were made: a query's is made the same way
            "pitch_chroma": _pitch_chroma(PitchSettings.of(settings.pitch)),
            # which model a query must load: the gallery pipeline tags the shipped one
            "model_source": fine_model.get("source", "trained"),
        },
    )
    return chunk_index, info
