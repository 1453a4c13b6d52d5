"""fine_training: the fine model, trained on aligned pairs of versions (coarse-to-fine)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from coverhunter.audio.cqt import CQTConfig
from coverhunter.data.batches import FineBatchSource
from coverhunter.data.features import load_features
from coverhunter.data.noise import make_augmenter
from coverhunter.data.splits import sampler_config, split_rows, training_items
from coverhunter.evaluation.collection import TrackSet, make_validator
from coverhunter.training.config import TrainingConfig
from coverhunter.training.stage import log_model_artifacts, train_stage

INITS = ("scratch", "coarse")


def train_fine_model(
    manifest: pd.DataFrame,
    cqt_features: dict,
    aligned_pairs: pd.DataFrame,
    coarse_model: dict,
    fine_training: dict,
    feature_cqt: dict,
    seed: int,
    device: str,
) -> tuple[dict, pd.DataFrame]:
    if fine_training["init"] not in INITS:
        raise ValueError(f"fine_training.init={fine_training['init']!r} is not one of {INITS}")
    cqt = CQTConfig(**feature_cqt["cqt"])
    items = training_items(manifest)
    features = load_features(cqt_features, [*items.perf_id, *split_rows(manifest, "val").perf_id])
    items = items[items.perf_id.isin(features)]
    batches = FineBatchSource(
        features,
        aligned_pairs,
        items,
        sampler_config(fine_training["sampler"], items, cqt.frame_rate),
        make_augmenter(fine_training["augment"], fine_training["noise_dir"], cqt, seed),
        seed,
    )
    val = split_rows(manifest, "val", features)
    result = train_stage(
        "fine",
        batches,
        fine_training["model"],
        fine_training["loss"],
        TrainingConfig(**fine_training["training"], device=device, seed=seed),
        checkpoint_dir=Path(fine_training["checkpoint_dir"]),
        validate=make_validator(
            TrackSet(list(val.perf_id), list(val.work_id), features),
            chunk_frames=round(fine_training["validation"]["chunk_s"] * cqt.frame_rate),
            frame_rate=cqt.frame_rate,
            batch_size=fine_training["validation"]["batch_size"],
            min_tail_frames=round(fine_training["validation"]["min_tail_s"] * cqt.frame_rate),
        ),
        init_from=coarse_model["model"] if fine_training["init"] == "coarse" else None,
    )
    metadata = {
        "stage": "fine",
        "init": fine_training["init"],
        "work_labels": sorted(batches.label_of, key=batches.label_of.get),
        "best_val_mAP": result.best_metric,
        "best_step": result.best_step,
        "aligned_pairs": len(aligned_pairs),
    }
    log_model_artifacts(result.model, metadata, "fine_model")
    return {"model": result.model, "metadata": metadata}, pd.DataFrame(result.history)
