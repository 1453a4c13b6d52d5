"""Settings of the training loop; the paper's values are the defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from coverhunter.model.checks import check, check_at_least, check_choice

__all__ = ["TrainingConfig"]

AMP_DTYPES = ("auto", "bfloat16", "float16")

# Fields that do not change what a step computes: a checkpoint written under other values of
# these still resumes (e.g. a run extended to more steps, or moved to another device).
RESUME_INDEPENDENT_FIELDS = ("max_steps", "checkpoint_every", "log_every", "device")


@dataclass
class TrainingConfig:
    """One training stage (coarse or fine).

    Learning rate: Adam(W), ``lr * lr_decay ** (step // lr_decay_every)``, never below
    ``lr_floor`` (paper: 1e-3, 0.95 every 1000 steps, no floor; authors: 0.9975, floor 1e-4).
    ``weight_decay`` applies to weight matrices only (nanoGPT style); 0 is plain Adam.
    ``grad_clip`` is a max global L2 norm, 0 disables it. ``validate_every`` 0 disables
    validation; ``early_stopping_patience`` is in validations, 0 disables early stopping.
    ``mixed_precision`` is used on CUDA only; ``amp_dtype`` "auto" picks bfloat16 where the GPU
    supports it, else float16 with a gradient scaler. ``sync_batchnorm``: under DDP, BatchNorm
    statistics over the global batch rather than each rank's slice.
    """

    lr: float = 1e-3
    lr_decay: float = 0.95
    lr_decay_every: int = 1000
    lr_floor: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    max_steps: int = 10_000
    checkpoint_every: int = 1000
    validate_every: int = 1000
    early_stopping_patience: int = 0
    device: str = "auto"
    mixed_precision: bool = True
    amp_dtype: str = "auto"
    seed: int = 0
    log_every: int = 50
    sync_batchnorm: bool = False

    def __post_init__(self) -> None:
        self.betas = tuple(float(b) for b in self.betas)  # YAML gives a list
        betas_ok = len(self.betas) == 2 and all(0.0 <= b < 1.0 for b in self.betas)
        check(self, "betas", betas_ok, "must be two numbers in [0, 1)")
        check(self, "lr", self.lr > 0, "must be positive")
        check(self, "lr_decay", 0.0 < self.lr_decay <= 1.0, "must be in (0, 1]")
        check_at_least(self, ("lr_decay_every", "max_steps", "log_every"), 1)
        never_negative = ("lr_floor", "weight_decay", "grad_clip", "checkpoint_every")
        check_at_least(self, (*never_negative, "validate_every", "early_stopping_patience"), 0)
        check_choice(self, "amp_dtype", AMP_DTYPES)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
