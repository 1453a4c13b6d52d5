import mlflow
import pytest
from mlflow.tracking import MlflowClient

from coverhunter.training.metric_logging import MemoryMetricLogger, MlflowMetricLogger


def test_memory_logger_keeps_everything():
    memory = MemoryMetricLogger()
    memory.log_metrics({"loss/total": 1.5}, step=3)
    memory.log_params({"lr": 0.001})
    assert memory.metrics == [(3, {"loss/total": 1.5})] and memory.params == {"lr": 0.001}


def test_mlflow_logger_without_a_run_does_nothing():
    assert mlflow.active_run() is None
    MlflowMetricLogger().log_metrics({"loss/total": 1.0}, step=1)
    MlflowMetricLogger().log_params({"lr": 0.001})
    assert mlflow.active_run() is None


@pytest.fixture
def tracking(tmp_path, monkeypatch):
    # A store of its own, and none of the experiment an earlier Kedro session made current.
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    previous = mlflow.get_tracking_uri()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(previous)


def test_mlflow_logger_writes_prefixed_keys_to_the_active_run(tracking):
    metric_logger = MlflowMetricLogger(prefix="coarse/")
    with mlflow.start_run() as run:
        metric_logger.log_metrics({"loss/total": 2.0}, step=1)
        metric_logger.log_metrics({"loss/total": 1.0, "val/mAP": 0.5}, step=2)
        metric_logger.log_params({"train.lr": 0.001})
    client = MlflowClient(tracking_uri=tracking)
    history = client.get_metric_history(run.info.run_id, "coarse/loss/total")
    assert [(m.step, m.value) for m in history] == [(1, 2.0), (2, 1.0)]
    assert client.get_run(run.info.run_id).data.params == {"coarse/train.lr": "0.001"}
