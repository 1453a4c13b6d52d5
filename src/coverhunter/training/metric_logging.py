"""Where training metrics go: MLflow in a run, a list in tests.

mlflow is imported by `MlflowMetricLogger` alone, when it logs: the training loop and everything
it imports run where mlflow is not installed (a bare GPU machine, `tests/test_cuda.py`).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["MemoryMetricLogger", "MetricLogger", "MlflowMetricLogger"]


class MetricLogger(Protocol):
    def log_metrics(self, metrics: dict[str, float], step: int) -> None: ...

    def log_params(self, params: dict[str, Any]) -> None: ...


class MlflowMetricLogger:
    """Logs to the active MLflow run; does nothing when no run is active.

    Args:
        prefix: prepended to every key, e.g. ``"coarse/"``, so two stages logged in one run
            keep separate metric series and parameter names.
    """

    def __init__(self, prefix: str = ""):
        self.prefix = prefix

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        import mlflow

        if mlflow.active_run() is None:
            return
        mlflow.log_metrics({self.prefix + k: float(v) for k, v in metrics.items()}, step=step)

    def log_params(self, params: dict[str, Any]) -> None:
        import mlflow

        if mlflow.active_run() is None:
            return
        mlflow.log_params({self.prefix + k: v for k, v in params.items()})


class MemoryMetricLogger:
    """Keeps everything in memory: ``metrics`` is a list of ``(step, dict)``."""

    def __init__(self) -> None:
        self.metrics: list[tuple[int, dict[str, float]]] = []
        self.params: dict[str, Any] = {}

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.metrics.append((step, dict(metrics)))

    def log_params(self, params: dict[str, Any]) -> None:
        self.params.update(params)
