"""Settings of the training loop; the paper's values are the defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

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
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas={self.betas} must be two numbers in [0, 1)")
        if self.lr <= 0:
            raise ValueError(f"lr={self.lr} must be positive")
        if not 0.0 < self.lr_decay <= 1.0:
            raise ValueError(f"lr_decay={self.lr_decay} must be in (0, 1]")
        if self.lr_floor < 0:
            raise ValueError(f"lr_floor={self.lr_floor} must be >= 0")
        for name in ("weight_decay", "grad_clip"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 0")
        for name in ("lr_decay_every", "max_steps", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        for name in ("checkpoint_every", "validate_every", "early_stopping_patience"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 0")
        if self.amp_dtype not in AMP_DTYPES:
            raise ValueError(f"amp_dtype={self.amp_dtype!r}; expected one of {AMP_DTYPES}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
