"""Training checkpoints: plain state dicts written with ``torch.save``, read with
``torch.load(weights_only=True)``, named by a fingerprint of everything that shapes the run.

A checkpoint is a dict:
``fingerprint`` str, ``step`` int (optimizer steps done), ``finished`` bool, ``model``,
``loss``, ``optimizer``, ``scaler`` state dicts, ``rng`` (torch CPU and CUDA states),
``best`` (``metric``, ``step``, ``state`` (a model state dict or None), ``since_best``),
``history`` (list of metric dicts) and ``stopped_early`` bool.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from coverhunter.data.atomic import replaced_atomically
from coverhunter.training.config import RESUME_INDEPENDENT_FIELDS, TrainingConfig

__all__ = [
    "checkpoint_path",
    "load_checkpoint",
    "run_fingerprint",
    "save_checkpoint",
    "start_identity",
]


def start_identity(model: torch.nn.Module, head_init: str) -> str:
    """A warm start's part of the fingerprint: the sha256 of the start model's tensors (names,
    shapes, values) and how the new head was made. Two runs from different models, or from
    the same model with another head, must not resume each other's checkpoints."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return f"{digest.hexdigest()}/{head_init}"


def run_fingerprint(
    model_config: dict[str, Any],
    loss_config: dict[str, Any],
    training_config: TrainingConfig,
    class_counts: list[float],
    world_size: int,
    start: str | None = None,
) -> str:
    """Hex digest of what decides a run's trajectory (not max_steps, logging or device).
    `start`: what a warm start starts from (`start_identity`); a run from scratch has none, so
    its fingerprint is what it always was."""
    training = {
        k: v for k, v in training_config.to_dict().items() if k not in RESUME_INDEPENDENT_FIELDS
    }
    identity = {
        "model": model_config,
        "loss": loss_config,
        "training": training,
        "class_counts": class_counts,
        "world_size": world_size,
    }
    if start is not None:
        identity["start"] = start
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def checkpoint_path(checkpoint_dir: Path, fingerprint: str) -> Path:
    """Where the run with this fingerprint keeps its latest checkpoint."""
    return Path(checkpoint_dir) / f"checkpoint-{fingerprint[:16]}.pt"


def save_checkpoint(path: Path, checkpoint: dict[str, Any]) -> None:
    """Write atomically: a killed write never leaves a truncated checkpoint behind."""
    with replaced_atomically(path) as partial:
        torch.save(checkpoint, partial)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint onto the CPU without unpickling arbitrary objects."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)
