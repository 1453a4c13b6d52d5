"""The fine model as an MLflow pyfunc model: audio paths in, one track embedding per file out.

`predict` takes a DataFrame with a `path` column and returns a float32 array `(N, D)` (the
logged signature makes MLflow refuse other inputs before they reach `predict`; the class itself,
used directly, also takes a list of paths or one path): per file, the mean of its 45 s chunk embeddings, re-normalised to unit
length (the gallery's `gallery_embeddings` rule). For chunk-level search use the Kedro project
(`coverhunter identify`); the pyfunc is the portable embedder.

The logged model's artifact is a model folder (`persistence.model_folder`: weights in
safetensors, the model config; it loads with the Kedro model dataset too) plus the CQT and chunk
settings (`serving.json`), and loads with `mlflow.pyfunc.load_model` wherever the
`coverhunter` package is installed: no Kedro project, no pickled module, weights read with
`safetensors`.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import torch
from mlflow.models.signature import ModelSignature
from mlflow.types.schema import ColSpec, Schema, TensorSpec

from coverhunter.audio.cqt import CQTConfig
from coverhunter.model.coverhunter import CoverHunter
from coverhunter.persistence.model_folder import load_model_folder, save_model_folder
from coverhunter.retrieval.gallery import ChunkSettings
from coverhunter.serving.query import embed_audio_file, track_embedding

logger = logging.getLogger(__name__)

SERVING_FILE = "serving.json"
ARTIFACT_KEY = "coverhunter_model"
# The distributions the pyfunc imports at load time (pinned to the versions installed here):
# the package itself, and what its serving path imports (tests/test_registry_model.py checks
# this list against the imports). mlflow adds itself.
REQUIREMENTS = (
    "coverhunter",
    "torch",
    "nnAudio",
    "numpy",
    "pandas",
    "scipy",
    "soundfile",
    "safetensors",
    "faiss-cpu",
)


def write_model_folder(
    folder: Path,
    model: CoverHunter,
    metadata: Mapping[str, Any],
    cqt: CQTConfig,
    chunking: ChunkSettings,
    batch_size: int,
) -> None:
    """`model` as a model folder (`persistence.model_folder`) plus its serving settings
    (`serving.json`) in `folder` (created)."""
    save_model_folder(folder, model, metadata)
    serving = {
        "cqt": cqt.to_dict(),
        "chunk_s": chunking.chunk_s,
        "min_tail_s": chunking.min_tail_s,
        "batch_size": batch_size,
    }
    (folder / SERVING_FILE).write_text(json.dumps(serving, indent=2, sort_keys=True))


def _paths(model_input: Any) -> list[str]:
    if isinstance(model_input, pd.DataFrame):
        column = "path" if "path" in model_input.columns else model_input.columns[0]
        return [str(p) for p in model_input[column]]
    if isinstance(model_input, str | Path):
        return [str(model_input)]
    return [str(p) for p in model_input]


class CoverHunterEmbedder(mlflow.pyfunc.PythonModel):
    """Audio files -> `(N, D)` unit track embeddings (see the module docstring)."""

    # The input is described by the explicit signature given to `log_model`; without this MLflow
    # wraps `predict` for type-hint validation and warns, at every import, that it has none.
    _skip_type_hint_validation = True

    def load_context(self, context) -> None:
        folder = Path(context.artifacts[ARTIFACT_KEY])
        self.model, _ = load_model_folder(folder)
        serving = json.loads((folder / SERVING_FILE).read_text())
        self.cqt = CQTConfig(**serving["cqt"])
        self.chunking = ChunkSettings(serving["chunk_s"], serving["min_tail_s"])
        self.batch_size = int(serving["batch_size"])

    def predict(self, context, model_input, params=None) -> np.ndarray:
        rows = []
        with torch.inference_mode():
            for path in _paths(model_input):
                query = embed_audio_file(
                    path,
                    self.model.embed,
                    self.cqt,
                    self.chunking,
                    self.batch_size,
                    min_frames=self.model.min_frames,
                )
                rows.append(track_embedding(query.chunks).numpy())
        if not rows:
            return np.zeros((0, self.model.config.embedding_dim), dtype=np.float32)
        return np.stack(rows).astype(np.float32)


def _signature(embedding_dim: int) -> ModelSignature:
    return ModelSignature(
        inputs=Schema([ColSpec("string", "path")]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, embedding_dim))]),
    )


def _requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    pinned = []
    for name in REQUIREMENTS:
        try:
            pinned.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pinned.append(name)
    return pinned


def alias_version(name: str, alias: str) -> tuple[str, dict[str, str]] | None:
    """`(version, tags)` of the version of registered model `name` that `alias` points at; None
    when the model or the alias does not exist yet."""
    try:
        version = mlflow.MlflowClient().get_model_version_by_alias(name, alias)
    except mlflow.exceptions.MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise
    return str(version.version), dict(version.tags)


def version_tagged(name: str, key: str, value: str) -> str | None:
    """The first version of registered model `name` whose tag `key` is `value`; None when no
    version has it or the model is not registered yet."""
    client = mlflow.MlflowClient()
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except mlflow.exceptions.MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise
    tagged = sorted(int(v.version) for v in versions if v.tags.get(key) == value)
    return str(tagged[0]) if tagged else None


def log_and_register(
    model: CoverHunter,
    metadata: Mapping[str, Any],
    cqt: CQTConfig,
    chunking: ChunkSettings,
    batch_size: int,
    name: str,
    alias: str | None,
    tags: Mapping[str, str] | None = None,
    promote: bool = True,
    reason: str = "",
) -> dict[str, Any]:
    """Log `model` as a pyfunc into the active MLflow run and register it as `name`; point
    `alias` at the new version when `promote`.

    `tags` go on the new version; `reason` (why it was or was not promoted) and the decision go
    on the run as tags `champion.promoted` and `champion.reason`. Returns name, version, alias
    (None when not moved), promoted, reason, champion_version (where the alias points now),
    model_uri and run_id. Needs an active run (kedro-mlflow opens one per `kedro run`).
    """
    run = mlflow.active_run()
    if run is None:
        raise ValueError("registering a model needs an active MLflow run; none is active")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        write_model_folder(folder, model, metadata, cqt, chunking, batch_size)
        info = mlflow.pyfunc.log_model(
            name="coverhunter_pyfunc",
            python_model=CoverHunterEmbedder(),
            artifacts={ARTIFACT_KEY: str(folder)},
            signature=_signature(model.config.embedding_dim),
            pip_requirements=_requirements(),
            registered_model_name=name,
        )
    version = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    for key, value in (tags or {}).items():
        client.set_model_version_tag(name, version, key, value)
    promoted = bool(alias) and promote
    if promoted:
        client.set_registered_model_alias(name, alias, version)
    current = alias_version(name, alias) if alias else None
    mlflow.set_tags({"champion.promoted": str(promoted).lower(), "champion.reason": reason})
    logger.info(
        "registered model %s version %s; alias %s %s: %s",
        name,
        version,
        alias,
        "moved to it" if promoted else "left where it was",
        reason,
    )
    return {
        "name": name,
        "version": version,
        "alias": alias if promoted else None,
        "promoted": promoted,
        "reason": reason,
        "champion_version": current[0] if current else None,
        "model_uri": f"models:/{name}/{version}",
        "run_id": run.info.run_id,
    }
