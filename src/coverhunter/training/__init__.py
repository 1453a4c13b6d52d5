"""The one training loop shared by the coarse and fine stages."""

from coverhunter.device import resolve_device
from coverhunter.training.config import TrainingConfig
from coverhunter.training.distributed import run_distributed
from coverhunter.training.loop import TrainingResult, Validate, train
from coverhunter.training.metric_logging import (
    MemoryMetricLogger,
    MetricLogger,
    MlflowMetricLogger,
)
from coverhunter.training.schedule import get_lr

__all__ = [
    "MemoryMetricLogger",
    "MetricLogger",
    "MlflowMetricLogger",
    "TrainingConfig",
    "TrainingResult",
    "Validate",
    "get_lr",
    "resolve_device",
    "run_distributed",
    "train",
]
