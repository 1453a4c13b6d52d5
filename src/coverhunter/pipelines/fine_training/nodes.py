"""fine_training: the fine model, trained on aligned pairs of versions (coarse-to-fine)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from coverhunter.audio.cqt import CQTConfig
from coverhunter.data.batches import FineBatchSource
from coverhunter.data.feature_store import FeatureStore
from coverhunter.data.features import with_features
from coverhunter.data.loader import LoaderConfig
from coverhunter.data.noise import make_augmenter
from coverhunter.data.splits import sampler_config, split_rows, training_items
from coverhunter.device import resolve_device
from coverhunter.evaluation.collection import EmbedSettings, TrackSet, make_validator
from coverhunter.training.config import TrainingConfig
from coverhunter.training.imprint import stage_head_init
from coverhunter.training.stage import log_model_artifacts, train_stage

INITS = ("scratch", "coarse")


def train_fine_model(
    manifest: pd.DataFrame,
    cqt_features: FeatureStore,
    aligned_pairs: pd.DataFrame,
    coarse_model: dict,
    fine_training: dict,
    feature_cqt: dict,
    seed: int,
    device: str,
    training_works: int | str | None = None,
) -> tuple[dict, pd.DataFrame]:
    if fine_training["init"] not in INITS:
        raise ValueError(f"fine_training.init={fine_training['init']!r} is not one of {INITS}")
    cqt = CQTConfig(**feature_cqt["cqt"])
    target = resolve_device(device)  # training and validation on the same device
    items = with_features(training_items(manifest, training_works, seed), cqt_features)
    batches = FineBatchSource(
        cqt_features,
        aligned_pairs,
        items,
        sampler_config(fine_training["sampler"], items, cqt.frame_rate),
        make_augmenter(fine_training["augment"], fine_training["noise_dir"], cqt, seed),
        seed,
    )
    val = with_features(split_rows(manifest, "val"), cqt_features)
    result = train_stage(
        "fine",
        batches,
        fine_training["model"],
        fine_training["loss"],
        TrainingConfig(**fine_training["training"], device=device, seed=seed),
        checkpoint_dir=Path(fine_training["checkpoint_dir"]),
        loader=LoaderConfig(**fine_training["loader"]),
        validate=make_validator(
            TrackSet(list(val.perf_id), list(val.work_id), cqt_features.float32()),
            EmbedSettings.from_seconds(fine_training["validation"], cqt.frame_rate, target),
        ),
        init_from=coarse_model["model"] if fine_training["init"] == "coarse" else None,
        head_init=stage_head_init(
            fine_training.get("head_init", "random"), fine_training["init"] == "coarse"
        ),
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
