"""One training stage (coarse or fine) from its parameter sections to a trained model.

The stages differ only in the batch source the caller passes; everything else — the model built
from its `model` section, the joint loss, the loop, MLflow logging under the stage's prefix, the
model weights logged as run artifacts — is this one function.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import mlflow
import torch

from coverhunter.data.batches import BatchSource
from coverhunter.data.loader import LoaderConfig
from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.model.losses import CoverHunterLoss, LossConfig
from coverhunter.persistence.model_folder import save_model_folder
from coverhunter.training.checkpoint import start_identity
from coverhunter.training.config import TrainingConfig
from coverhunter.training.imprint import HEAD_INITS, imprint_head, start_row_norm, work_means
from coverhunter.training.loop import Prepare, TrainingResult, Validate, train
from coverhunter.training.metric_logging import MlflowMetricLogger

logger = logging.getLogger(__name__)


def build_model(model_params: Mapping[str, Any], n_classes: int, seed: int) -> CoverHunter:
    """A freshly initialised CoverHunter; unknown parameter keys raise TypeError."""
    config = CoverHunterConfig(**dict(model_params), n_classes=n_classes)
    return CoverHunter(config, generator=torch.Generator().manual_seed(seed))


def warm_start(model: CoverHunter, source: CoverHunter, skip: Sequence[str] = ()) -> list[str]:
    """Copy every tensor of `source` whose name and shape match, except those under a `skip`
    prefix; returns the names left as they were.

    The classifier is left out when the two stages see different work sets: by its shape when
    their numbers differ, by `skip` when only their identity does (a pretrained model's works).
    """
    own = model.state_dict()
    copied = {
        name: tensor
        for name, tensor in source.state_dict().items()
        if name in own
        and own[name].shape == tensor.shape
        and not any(name == p or name.startswith(f"{p}.") for p in skip)
    }
    model.load_state_dict(copied, strict=False)
    return sorted(set(own) - set(copied))


def check_same_architecture(config: CoverHunterConfig, model_params: Mapping[str, Any]) -> None:
    """Raise ValueError naming the settings where `model_params` (a stage's `model`) differs from
    the architecture of `config` (a model to start from): its weights would not fit."""
    wanted = CoverHunterConfig(**dict(model_params), n_classes=config.n_classes).to_dict()
    given = config.to_dict()
    differ = {k: (wanted[k], given.get(k)) for k in wanted if wanted[k] != given.get(k)}
    if differ:
        listed = ", ".join(f"{k} {a!r} (the start model's: {b!r})" for k, (a, b) in differ.items())
        raise ValueError(
            f"the stage's model settings differ from the model it starts from: {listed}; "
            "use the start model's settings, or init: scratch"
        )


def log_model_artifacts(
    model: CoverHunter, metadata: Mapping[str, Any], artifact_path: str
) -> None:
    """`model` as a model folder (`persistence.model_folder`) under `artifact_path` among the
    active MLflow run's artifacts: downloaded, it loads as the Kedro model dataset loads."""
    if mlflow.active_run() is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        save_model_folder(tmp, model, metadata)
        mlflow.log_artifacts(tmp, artifact_path)


def train_stage(
    stage: str,
    batches: BatchSource,
    model_params: Mapping[str, Any],
    loss_params: Mapping[str, Any],
    training: TrainingConfig,
    *,
    checkpoint_dir: Path,
    validate: Validate | None,
    init_from: CoverHunter | None = None,
    init_skip: Sequence[str] = (),
    loader: LoaderConfig | None = None,
    head_init: str = "random",
) -> TrainingResult:
    """Build the model and loss for `batches`, optionally warm-start it, and train it.

    `head_init` (with `init_from`): "random" draws the new classifier and centers; "imprint"
    sets them from the start model's embeddings of each work (`training/imprint.py`; a
    classifier carried over from the start model is kept)."""
    if head_init not in HEAD_INITS:
        raise ValueError(f"head_init={head_init!r} is not one of {HEAD_INITS}")
    if head_init == "imprint" and init_from is None:
        raise ValueError("head_init: imprint needs a model to start from (init: pretrained)")
    model = build_model(model_params, batches.n_classes, training.seed)
    if init_from is not None:
        untouched = warm_start(model, init_from, init_skip)
        logger.info("%s stage starts from the given model; newly initialised: %s", stage, untouched)
    loss_fn = CoverHunterLoss(
        LossConfig(**dict(loss_params)),
        batches.n_classes,
        model.config.embedding_dim,
        batches.class_counts,
        generator=torch.Generator().manual_seed(training.seed + 1),
    )
    prepare = None
    if head_init == "imprint":
        prepare = _imprint(
            stage, batches, start_row_norm(init_from), "classifier.weight" in untouched
        )
    logger.info(
        "%s stage: %d works, %s parameters", stage, batches.n_classes, f"{model.num_parameters():,}"
    )
    return train(
        model,
        loss_fn,
        batches,
        training,
        checkpoint_dir=checkpoint_dir,
        validate=validate,
        logger=MlflowMetricLogger(prefix=f"{stage}/"),
        loader=loader,
        # a warm start is scored as it starts: refining never returns a model worse on validation
        validate_start=init_from is not None,
        start=None if init_from is None else start_identity(init_from, head_init),
        prepare=prepare,
    )


def _imprint(stage: str, batches: BatchSource, row_norm: float, classifier: bool) -> Prepare:
    """The loop's `prepare` that imprints the head: run once when the stage starts afresh, never
    on a resume (the checkpoint holds the trained head; 2 minutes of embedding at 48,000
    recordings saved)."""

    def prepare(model: CoverHunter, loss_fn: CoverHunterLoss, device: torch.device) -> None:
        means = work_means(model, batches, device)
        imprint_head(model, loss_fn, means, row_norm, classifier)
        logger.info(
            "%s stage: classifier and centers imprinted from %d works", stage, len(means.neck)
        )

    return prepare
