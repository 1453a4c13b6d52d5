"""inference, gallery and identify: a trained or the shipped model applied to a new collection,
or to one recording."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch

from coverhunter.audio.cqt import CQTConfig
from coverhunter.data.validation import ValidationConfig
from coverhunter.device import resolve_device
from coverhunter.persistence.model_folder import ModelFolderError
from coverhunter.retrieval.embed import inference_embed_fn
from coverhunter.retrieval.fingerprint import model_fingerprint
from coverhunter.retrieval.gallery import ChunkSettings, check_index_info
from coverhunter.retrieval.index import ChunkIndex, search_tracks
from coverhunter.retrieval.pitch_rerank import (
    PitchSettings,
    chromas_from_table,
    pitch_alignment,
    pitch_segment_seconds,
)
from coverhunter.retrieval.rerank import (
    Alignment,
    RerankSettings,
    align_candidates,
    fuse,
    segment_seconds,
    sequences_from_table,
)
from coverhunter.retrieval.works import rank_works_reranked, shown_positions
from coverhunter.serving.chroma import recording_chroma
from coverhunter.serving.query import embed_audio_file

logger = logging.getLogger(__name__)

# What the gallery pipeline tags the shipped model with; indexing writes it into the index info
# as `model_source` (absent: "trained"), so identify knows which model to load for the gallery.
SHIPPED_SOURCE = "shipped"


def check_inference_target(ingest: dict, collection: str, model_collection: str) -> dict:
    """Pass `ingest` on unchanged unless the run would write over the model's own collection."""
    if collection == model_collection:
        raise ValueError(
            f"inference writes under collection={collection!r}, the collection the model was "
            f"trained on (model_collection={model_collection!r}); name a new one, e.g. "
            '--params "collection=mine,ingest.source=csv,ingest.path=FILE"'
        )
    return ingest


def check_gallery_target(ingest: dict, collection: str, model_collection: str) -> dict:
    """Pass `ingest` on unchanged unless the gallery run would write over the collection
    `kedro run` trains on (`model_collection`)."""
    if collection == model_collection:
        raise ValueError(
            f"gallery writes under collection={collection!r}, the collection `kedro run` trains "
            f"on (model_collection={model_collection!r}); name your own, e.g. --params "
            '"collection=mine,ingest.source=folder,ingest.path=FOLDER,ingest.options.works=files"'
        )
    return ingest


def check_shipped_model(shipped_model: dict) -> dict:
    """The shipped model tagged `source: shipped` (what indexing records for identify), or
    ModelFolderError where the package holds none (the catalog's `pretrained_model` then loads
    with model None)."""
    if shipped_model["model"] is None:
        raise ModelFolderError(
            f"no shipped model at {shipped_model['path']} to build a gallery with: put one there "
            "(python -m coverhunter.serving.ship MODEL_FOLDER), or train one with `kedro run` "
            'and index with it: kedro run --pipelines inference --params "collection=NAME,..."'
        )
    return {**shipped_model, "source": SHIPPED_SOURCE}


def _decision(results: pd.DataFrame, decision_calibration: dict | None, far: float) -> dict:
    """ "a version of W" or "no known work": the best work's score against the threshold fitted
    at false-accept rate `far` (evaluation/calibration.py); no threshold: no decision."""
    threshold = _threshold(decision_calibration, far)
    best = results.iloc[0] if len(results) else None
    decision = {
        "far": far,
        "threshold": threshold,
        "score": None if best is None else float(best.score),
        "work_id": None if best is None else str(best.work_id),
    }
    if threshold is None or best is None:
        return {**decision, "known": None}
    return {**decision, "known": bool(best.score >= threshold)}


def _threshold(decision_calibration: dict | None, far: float) -> float | None:
    """The score threshold fitted at false-accept rate `far`; None where none was."""
    fitted = (decision_calibration or {}).get("thresholds", {}).get(f"far_{far:g}")
    return None if fitted is None else fitted["threshold"]


def _query_pitch(
    rerank: dict,
    gallery_index_info: dict,
    gallery_chroma: pd.DataFrame | None,
    decision_calibration: dict | None,
) -> PitchSettings:
    """The pitch stage as the gallery's chromas were made (index info) at the calibrated weight;
    off when `rerank.pitch` is, or when the index has no chromas (made before the stage was, or
    with it off)."""
    made = gallery_index_info.get("pitch_chroma")
    params = {**(rerank.get("pitch") or {}), **(made or {})}
    if gallery_chroma is None or made is None or gallery_chroma.empty:
        params["enabled"] = False
    params["weight"] = (decision_calibration or {}).get("pitch_weight", params.get("weight", 0.5))
    return PitchSettings.of(params)


def _pitch_segments(
    query_chroma: torch.Tensor,
    chromas: list[torch.Tensor],
    scored: Alignment,
    placed: np.ndarray,
    pitch: PitchSettings,
    cqt: CQTConfig,
) -> dict[str, np.ndarray]:
    """Where the query matches each shortlisted recording by the pitch path (finer than the
    sequences' hop: `Reranked.located_segments`): the scoring alignment's path, and where
    `pitch.locating()` asks for a second alignment, that one's for the `placed` positions (the
    answers that are versions: a second alignment costs as much as the first, and a place in a
    recording that is not a version says little)."""
    frame_s = pitch.frame_s(cqt.sample_rate, cqt.frame_rate)
    segments = pitch_segment_seconds(scored, frame_s, pitch)
    locating = pitch.locating()
    if locating is None or not len(placed):
        return segments
    located = pitch_segment_seconds(
        pitch_alignment(query_chroma, [chromas[i] for i in placed.tolist()], locating),
        frame_s,
        pitch,
    )
    for key, seconds in located.items():
        segments[key][placed] = seconds
    return segments


def _placed_positions(
    shown: np.ndarray, final: np.ndarray, decision_calibration: dict | None, far: float
) -> np.ndarray:
    """The shown positions whose score passes the decision's threshold at `far` (versions by the
    calibration); every shown one where there is no threshold."""
    threshold = _threshold(decision_calibration, far)
    return shown if threshold is None else shown[final[shown] >= threshold]


def identify_recording(
    identify: dict,
    fine_model: dict,
    gallery_index: ChunkIndex,
    gallery_index_info: dict,
    gallery_embeddings: pd.DataFrame,
    gallery_sequences: pd.DataFrame,
    gallery_chroma: pd.DataFrame | None,
    decision_calibration: dict | None,
    rerank: dict,
    device: str,
    ingest: dict,
) -> tuple[pd.DataFrame, dict]:
    """The works the recording at `identify.path` is most likely a version of, best first, and
    the decision: is it a version of the best one (`_decision`).

    Two stages (retrieval/rerank.py): the faiss shortlist of `rerank.k` performances, re-scored
    by aligning the recording's sequence with theirs (window and hop from the index info, the
    fusion weight from `decision_calibration`, else `rerank.fusion_weight`); each row says where
    the two recordings match. With `rerank.pitch` on and the gallery's chromas stored, the
    shortlist is also scored by the pitch stage (retrieval/pitch_rerank.py; the chroma made as the
    index info says, the weight from `decision_calibration`). A recording that ingest would set
    aside (`ingest`'s silence and length limits) or that holds no music
    (`identify.min_tonality_db`) is refused with the reason (`QueryRejected`).
    """
    if not identify.get("path"):
        raise ValueError("identify.path is not set: pass the audio file to identify")
    model = fine_model["model"]
    check_index_info(gallery_index_info, model_fingerprint(model, model.config.to_dict()))
    sequences = gallery_index_info.get("sequences") or {}
    weight = (decision_calibration or {}).get("fusion_weight", rerank["fusion_weight"])
    settings = RerankSettings(**{**rerank, **sequences, "fusion_weight": weight})
    pitch = _query_pitch(rerank, gallery_index_info, gallery_chroma, decision_calibration)
    target = resolve_device(device)
    model = model.to(target).eval()
    cqt = CQTConfig(**gallery_index_info["cqt"])

    def chroma_fn(log_cqt: np.ndarray, signal: np.ndarray) -> torch.Tensor:
        return recording_chroma(log_cqt, signal, cqt.sample_rate, pitch)

    with torch.inference_mode():
        query = embed_audio_file(
            identify["path"],
            inference_embed_fn(model, identify["precision"], target),
            cqt,
            ChunkSettings(gallery_index_info["chunk_s"], gallery_index_info["min_tail_s"]),
            identify["batch_size"],
            min_frames=model.min_frames,
            max_duration_s=identify["max_duration_s"],
            device=target,
            validation=ValidationConfig(
                sample_rate=int(ingest["sample_rate"]),
                min_duration_s=float(ingest["min_duration_s"]),
                max_duration_s=float(identify["max_duration_s"]),
                silence_peak_db=float(ingest["silence_peak_db"]),
            ),
            min_tonality=identify.get("min_tonality_db"),
            sequence_s=(settings.window_s, settings.hop_s),
            cqt_cache_dir=identify.get("cqt_cache_dir"),
            chroma_fn=chroma_fn if pitch.enabled else None,
        )
    (hits,) = search_tracks(
        gallery_index, query.chunks, k_tracks=settings.k, k_chunks=identify["k_chunks"]
    )
    shortlist = hits.perf_ids.astype(str)
    wanted = gallery_sequences[gallery_sequences.perf_id.isin(set(shortlist))]
    found = align_candidates(
        query.sequence,
        sequences_from_table(wanted, list(shortlist)),
        settings.match_threshold,
        settings.centre,
    )
    similarity = torch.as_tensor(1.0 - hits.distances.astype(np.float32))
    final = fuse(similarity, found.score, settings.fusion_weight)
    work_of = dict(zip(gallery_embeddings.perf_id, gallery_embeddings.work_id, strict=True))
    segments = segment_seconds(found, settings.hop_s, settings.window_s)
    if pitch.enabled:
        chromas = chromas_from_table(gallery_chroma, list(shortlist))
        by_pitch = pitch_alignment(query.chroma, chromas, pitch)
        final = fuse(final, by_pitch.score, pitch.weight)
        shown = shown_positions(np.array([work_of[p] for p in shortlist]), final, identify["top"])
        placed = _placed_positions(
            shown, final.numpy(), decision_calibration, identify["false_accept_rate"]
        )
        segments = _pitch_segments(query.chroma, chromas, by_pitch, placed, pitch, cqt)
    results = rank_works_reranked(
        shortlist,
        work_of,
        similarity.numpy(),
        found.score.numpy(),
        final.numpy(),
        segments,
        identify["top"],
    )
    return results, _decision(results, decision_calibration, identify["false_accept_rate"])
