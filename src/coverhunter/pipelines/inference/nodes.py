"""inference and identify: a trained model applied to a new collection, or to one recording."""

from __future__ import annotations

import logging

import pandas as pd
import torch

from coverhunter.audio.cqt import CQTConfig
from coverhunter.data.validation import ValidationConfig
from coverhunter.device import resolve_device
from coverhunter.retrieval.embed import inference_embed_fn
from coverhunter.retrieval.fingerprint import model_fingerprint
from coverhunter.retrieval.gallery import ChunkSettings, check_index_info
from coverhunter.retrieval.index import ChunkIndex, search_tracks
from coverhunter.retrieval.works import rank_works
from coverhunter.serving.query import embed_audio_file

logger = logging.getLogger(__name__)


def check_inference_target(ingest: dict, collection: str, model_collection: str) -> dict:
    """Pass `ingest` on unchanged unless the run would write over the model's own collection."""
    if collection == model_collection:
        raise ValueError(
            f"inference writes under collection={collection!r}, the collection the model was "
            f"trained on (model_collection={model_collection!r}); name a new one, e.g. "
            '--params "collection=mine,ingest.source=csv,ingest.path=FILE"'
        )
    return ingest


def identify_recording(
    identify: dict,
    fine_model: dict,
    gallery_index: ChunkIndex,
    gallery_index_info: dict,
    gallery_embeddings: pd.DataFrame,
    device: str,
    ingest: dict,
) -> pd.DataFrame:
    """The works the recording at `identify.path` is most likely a version of, nearest first.

    A recording that ingest would set aside (`ingest`'s silence and length limits) or that holds
    no music (`identify.min_tonality_db`) is refused with the reason (`QueryRejected`).
    """
    if not identify.get("path"):
        raise ValueError("identify.path is not set: pass the audio file to identify")
    model = fine_model["model"]
    check_index_info(gallery_index_info, model_fingerprint(model, model.config.to_dict()))
    target = resolve_device(device)
    model = model.to(target).eval()
    with torch.inference_mode():
        query = embed_audio_file(
            identify["path"],
            inference_embed_fn(model, identify["precision"], target),
            CQTConfig(**gallery_index_info["cqt"]),
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
        )
    hits = search_tracks(
        gallery_index, query.chunks, k_tracks=len(gallery_embeddings), k_chunks=identify["k_chunks"]
    )
    work_of = dict(zip(gallery_embeddings.perf_id, gallery_embeddings.work_id, strict=True))
    return rank_works(hits[0], work_of, query.starts_s, identify["top"])
