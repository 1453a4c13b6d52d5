"""coarse_training: the coarse model, trained on 15 s chunks labelled by work."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from coverhunter.audio.cqt import CQTConfig
from coverhunter.data.batches import CoarseBatchSource
from coverhunter.data.feature_store import FeatureStore
from coverhunter.data.features import with_features
from coverhunter.data.loader import LoaderConfig
from coverhunter.data.noise import make_augmenter
from coverhunter.data.splits import sampler_config, split_rows, training_items
from coverhunter.device import resolve_device
from coverhunter.evaluation.collection import EmbedSettings, TrackSet, make_validator
from coverhunter.training.config import TrainingConfig
from coverhunter.training.imprint import stage_head_init
from coverhunter.training.stage import check_same_architecture, log_model_artifacts, train_stage

INITS = ("scratch", "pretrained")


def train_coarse_model(
    manifest: pd.DataFrame,
    cqt_features: FeatureStore,
    pretrained_model: dict,
    coarse_training: dict,
    feature_cqt: dict,
    seed: int,
    device: str,
    training_works: int | str | None = None,
) -> tuple[dict, pd.DataFrame]:
    init = coarse_training.get("init", "scratch")
    if init not in INITS:
        raise ValueError(f"coarse_training.init={init!r} is not one of {INITS}")
    start = pretrained_model["model"] if init == "pretrained" else None
    if init == "pretrained" and start is None:
        raise ValueError(
            f"coarse_training.init is pretrained but {pretrained_model['path']} holds no model "
            "(set coarse_training.init: scratch, or restore the shipped model)"
        )
    if start is not None:
        check_same_architecture(start.config, coarse_training["model"])
    cqt = CQTConfig(**feature_cqt["cqt"])
    target = resolve_device(device)  # training and validation on the same device
    items = with_features(training_items(manifest, training_works, seed), cqt_features)
    val = with_features(split_rows(manifest, "val"), cqt_features)
    batches = CoarseBatchSource(
        cqt_features,
        items,
        sampler_config(coarse_training["sampler"], items, cqt.frame_rate),
        make_augmenter(coarse_training["augment"], coarse_training["noise_dir"], cqt, seed),
        seed,
    )
    training = TrainingConfig(**coarse_training["training"], device=device, seed=seed)
    validate = make_validator(
        TrackSet(list(val.perf_id), list(val.work_id), cqt_features.float32()),
        EmbedSettings.from_seconds(coarse_training["validation"], cqt.frame_rate, target),
    )
    result = train_stage(
        "coarse",
        batches,
        coarse_training["model"],
        coarse_training["loss"],
        training,
        checkpoint_dir=Path(coarse_training["checkpoint_dir"]),
        loader=LoaderConfig(**coarse_training["loader"]),
        validate=validate,
        init_from=start,
        init_skip=("classifier",),  # the pretrained model's classes are other works
        head_init=stage_head_init(coarse_training.get("head_init", "random"), start is not None),
    )
    metadata = {
        "stage": "coarse",
        "init": init,
        "work_labels": sorted(batches.label_of, key=batches.label_of.get),
        "best_val_mAP": result.best_metric,
        "best_step": result.best_step,
    }
    log_model_artifacts(result.model, metadata, "coarse_model")
    return {"model": result.model, "metadata": metadata}, pd.DataFrame(result.history)
