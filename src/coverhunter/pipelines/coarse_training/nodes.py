"""coarse_training: the coarse model, trained on 15 s chunks labelled by work."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from coverhunter.audio.cqt import CQTConfig
from coverhunter.data.batches import CoarseBatchSource
from coverhunter.data.features import load_features
from coverhunter.data.noise import make_augmenter
from coverhunter.data.splits import sampler_config, split_rows, training_items
from coverhunter.evaluation.collection import TrackSet, make_validator
from coverhunter.training.config import TrainingConfig
from coverhunter.training.stage import log_model_artifacts, train_stage


def train_coarse_model(
    manifest: pd.DataFrame,
    cqt_features: dict,
    coarse_training: dict,
    feature_cqt: dict,
    seed: int,
    device: str,
) -> tuple[dict, pd.DataFrame]:
    cqt = CQTConfig(**feature_cqt["cqt"])
    items = training_items(manifest)
    features = load_features(cqt_features, [*items.perf_id, *split_rows(manifest, "val").perf_id])
    val = split_rows(manifest, "val", features)
    batches = CoarseBatchSource(
        features,
        items[items.perf_id.isin(features)],
        sampler_config(coarse_training["sampler"], items, cqt.frame_rate),
        make_augmenter(coarse_training["augment"], coarse_training["noise_dir"], cqt, seed),
        seed,
    )
    training = TrainingConfig(**coarse_training["training"], device=device, seed=seed)
    validate = make_validator(
        TrackSet(list(val.perf_id), list(val.work_id), features),
        chunk_frames=round(coarse_training["validation"]["chunk_s"] * cqt.frame_rate),
        frame_rate=cqt.frame_rate,
        batch_size=coarse_training["validation"]["batch_size"],
        min_tail_frames=round(coarse_training["validation"]["min_tail_s"] * cqt.frame_rate),
    )
    result = train_stage(
        "coarse",
        batches,
        coarse_training["model"],
        coarse_training["loss"],
        training,
        checkpoint_dir=Path(coarse_training["checkpoint_dir"]),
        validate=validate,
    )
    metadata = {
        "stage": "coarse",
        "work_labels": sorted(batches.label_of, key=batches.label_of.get),
        "best_val_mAP": result.best_metric,
        "best_step": result.best_step,
    }
    log_model_artifacts(result.model, metadata, "coarse_model")
    return {"model": result.model, "metadata": metadata}, pd.DataFrame(result.history)
