"""The one on-disk form of a trained CoverHunter: a folder with ``model.safetensors`` (the state
dict) and ``config.json`` (``{"format": 1, "config": CoverHunterConfig, "metadata": {...}}``).

Every copy of a model is this folder: the Kedro dataset (`datasets/model_dataset.py`, which
adds versioning and the atomic replace), the training stage's MLflow artifacts
(`training/stage.py`), the MLflow pyfunc's artifact (`serving/pyfunc.py`, which adds its
``serving.json`` beside) and the shipped pretrained model. So a folder written by any of them
loads with `load_model_folder`, and with each of the others.

Weights are read with ``safetensors`` (no pickle). A ``config.json`` without ``"format"`` (what
the training stage and the pyfunc wrote before they used this module) is read as format 1: the
two differ only in that key.

Example:
    >>> save_model_folder(tmp / "m", model, {"work_labels": labels})
    >>> model, metadata = load_model_folder(tmp / "m")
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig

__all__ = [
    "CONFIG_FILE",
    "FORMAT_VERSION",
    "WEIGHTS_FILE",
    "ModelFolderError",
    "is_model_folder",
    "load_model_folder",
    "save_model_folder",
]

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORMAT_VERSION = 1


class ModelFolderError(ValueError):
    """A folder that is not a whole, readable model folder; the message names it and why."""


def is_model_folder(folder: str | Path) -> bool:
    """Whether `folder` holds both files of a model folder (not whether they are valid)."""
    folder = Path(folder)
    return (folder / WEIGHTS_FILE).is_file() and (folder / CONFIG_FILE).is_file()


def save_model_folder(folder: str | Path, model: CoverHunter, metadata: Mapping[str, Any]) -> None:
    """Write `model` (weights and config, moved to the CPU) and `metadata` (JSON-serialisable)
    into `folder`, created with its parents; files of the same names are overwritten.

    Raises ModelFolderError for a model that is not a CoverHunter or metadata JSON cannot hold,
    before anything is written.
    """
    if not isinstance(model, CoverHunter):
        raise ModelFolderError(
            f"a model folder holds a CoverHunter, got model of type {type(model).__name__}"
        )
    document = {
        "format": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "metadata": dict(metadata or {}),
    }
    try:
        text = json.dumps(document, indent=2, sort_keys=True)
    except TypeError as error:
        raise ModelFolderError(f"model metadata is not JSON serialisable: {error}") from error
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(folder / WEIGHTS_FILE))
    (folder / CONFIG_FILE).write_text(text)


def load_model_folder(folder: str | Path) -> tuple[CoverHunter, dict[str, Any]]:
    """`(model, metadata)` from a folder `save_model_folder` wrote; the model is on the CPU in
    eval mode. Raises ModelFolderError naming the folder when a file is missing, the format is
    unknown, the config is invalid or the weights do not fit it."""
    folder = Path(folder)
    if not is_model_folder(folder):
        raise ModelFolderError(f"{folder} lacks {WEIGHTS_FILE} or {CONFIG_FILE}")
    config_file = folder / CONFIG_FILE
    try:
        document = json.loads(config_file.read_text())
    except json.JSONDecodeError as error:
        raise ModelFolderError(f"{config_file} is not JSON: {error}") from error
    if not isinstance(document, dict) or "config" not in document:
        raise ModelFolderError(f"{config_file} has no model config")
    if document.get("format", FORMAT_VERSION) != FORMAT_VERSION:
        raise ModelFolderError(f"{config_file}: unknown format {document.get('format')!r}")
    try:
        model = CoverHunter(CoverHunterConfig(**document["config"]))
    except (TypeError, ValueError) as error:
        raise ModelFolderError(f"{config_file}: invalid model config: {error}") from error
    try:
        model.load_state_dict(load_file(str(folder / WEIGHTS_FILE), device="cpu"))
    except (RuntimeError, OSError) as error:  # safetensors' and torch's refusals
        raise ModelFolderError(f"{folder / WEIGHTS_FILE}: {error}") from error
    return model.eval(), dict(document.get("metadata", {}))
