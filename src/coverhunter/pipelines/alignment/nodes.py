"""alignment: coarse chunk embeddings of the training versions, and where versions line up."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from coverhunter.alignment.match import align_collection
from coverhunter.alignment.pairs import aligned_pairs_table, alignment_report
from coverhunter.alignment.threshold import impostor_threshold
from coverhunter.audio.cqt import CQTConfig
from coverhunter.data.feature_store import FeatureStore
from coverhunter.data.features import with_features
from coverhunter.data.splits import training_items
from coverhunter.device import resolve_device
from coverhunter.evaluation.plots import offset_histogram
from coverhunter.retrieval.chunk_table import embed_chunk_table, embedding_matrix


def _hop_frames(alignment: dict, frame_rate: float) -> int:
    return round(alignment["chunk_hop_s"] * frame_rate)


def embed_coarse_chunks(
    manifest: pd.DataFrame,
    cqt_features: FeatureStore,
    coarse_model: dict,
    alignment: dict,
    feature_cqt: dict,
    device: str,
    training_works: int | str | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """15 s chunks on the 7.5 s grid of every training performance (of the `training_works` the
    coarse stage trained on), embedded by the coarse model."""
    frame_rate = CQTConfig(**feature_cqt["cqt"]).frame_rate
    items = with_features(training_items(manifest, training_works, seed), cqt_features)
    target = resolve_device(device)
    model = coarse_model["model"].to(target).eval()
    return embed_chunk_table(
        model.embed,
        items,
        cqt_features.float32(),
        chunk_frames=round(alignment["chunk_s"] * frame_rate),
        hop_frames=_hop_frames(alignment, frame_rate),
        frame_rate=frame_rate,
        min_tail_frames=round(alignment["min_tail_s"] * frame_rate),
        batch_size=alignment["batch_size"],
        device=target,
    )


def match_threshold(chunk_embeddings: pd.DataFrame, alignment: dict, seed: int) -> float:
    """The configured threshold, or with `threshold: auto` the impostor quantile of this run."""
    if alignment["threshold"] != "auto":
        return float(alignment["threshold"])
    return impostor_threshold(
        chunk_embeddings.work_id.to_numpy(),
        embedding_matrix(chunk_embeddings),
        alignment["impostor_quantile"],
        seed=seed,
    )


def align_versions(
    chunk_embeddings: pd.DataFrame,
    manifest: pd.DataFrame,
    alignment: dict,
    feature_cqt: dict,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame, dict, dict, Figure]:
    """Aligned and unaligned pairs, the report (with accuracy against true offsets), its plot."""
    frame_rate = CQTConfig(**feature_cqt["cqt"]).frame_rate
    hop_s = _hop_frames(alignment, frame_rate) / frame_rate
    threshold = match_threshold(chunk_embeddings, alignment, seed)
    results = align_collection(
        chunk_embeddings,
        embedding_matrix(chunk_embeddings),
        threshold=threshold,
        min_matches=alignment["min_matches"],
    )
    pairs, unaligned = aligned_pairs_table(results, hop_s)
    report = {"threshold": threshold, **alignment_report(pairs, unaligned, manifest, hop_s)}
    metrics = {
        key: {"value": float(value), "step": 0}
        for key, value in report.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    return pairs, unaligned, report, metrics, offset_histogram(pairs.offset_s.to_numpy())
