"""The learning-rate schedule: a pure function of the step."""

from __future__ import annotations

from coverhunter.training.config import TrainingConfig

__all__ = ["get_lr"]


def get_lr(step: int, config: TrainingConfig) -> float:
    """Step decay: ``lr * lr_decay ** (step // lr_decay_every)``, floored at ``lr_floor``.

    ``step`` counts optimizer steps already taken (0 for the first one).
    """
    if step < 0:
        raise ValueError(f"step={step} must be >= 0")
    decayed = config.lr * config.lr_decay ** (step // config.lr_decay_every)
    return max(decayed, config.lr_floor)
