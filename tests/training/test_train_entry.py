"""Training a stage through torchrun (2 processes, gloo) and with the paper's configuration."""

from __future__ import annotations

import os
import subprocess
import sys

import mlflow
import pytest
from kedro.framework.project import configure_project
from mlflow.tracking import MlflowClient
from project_helpers import run_session
from trained_project import TINY_MODEL, inside, trained_project_copy

from coverhunter.train import parse_params

STEPS = {"max_steps": 4, "validate_every": 2, "checkpoint_every": 2, "log_every": 1}


def _flat(prefix: str, value) -> list[str]:
    if isinstance(value, dict):
        return [item for key, sub in value.items() for item in _flat(f"{prefix}.{key}", sub)]
    return [f"{prefix}={value}"]


def _versions(project, stage):
    return sorted((project / f"data/06_models/default/{stage}").iterdir())


def _runs(project):
    client = MlflowClient(tracking_uri=f"sqlite:///{project}/mlflow.db")
    return client, [
        run for exp in client.search_experiments() for run in client.search_runs(exp.experiment_id)
    ]


def test_parse_params_nests_dotted_keys_and_reads_values_as_yaml():
    assert parse_params("a.b=1,a.c=x, d=0.5,e=null") == {
        "a": {"b": 1, "c": "x"},
        "d": 0.5,
        "e": None,
    }
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_params("oops")


def test_torchrun_trains_the_coarse_stage_in_two_processes(tmp_path_factory):
    project = trained_project_copy(tmp_path_factory, "torchrun")
    before = _versions(project, "coarse_model")
    _, runs_before = _runs(project)
    stage = {
        "model": TINY_MODEL,
        "training": STEPS,
        "sampler": {"p_works": 4, "k_items": 2},
        "augment": {"pitch_prob": 0.0},
        "checkpoint_dir": "data/06_models/default/checkpoints/torchrun",
    }
    params = ",".join([*_flat("coarse_training", stage), "device=cpu"])
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        "--standalone", "-m", "coverhunter.train", "coarse", "--params", params,
    ]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        command, cwd=project, env=environment, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-4000:]
    # rank 0 saved one new model through the catalog and tracked one run; rank 1 neither
    assert len(_versions(project, "coarse_model")) == len(before) + 1
    client, runs = _runs(project)
    assert len(runs) == len(runs_before) + 1
    new = max(runs, key=lambda run: run.info.start_time)
    assert new.info.status == "FINISHED"
    validations = client.get_metric_history(new.info.run_id, "coarse/val/mAP")
    assert [m.step for m in validations] == [2, 4]
    assert all(0.0 <= m.value <= 1.0 for m in validations)
    assert new.data.params["coarse_training.sampler.p_works"] == "4"
    assert new.data.params["coarse/world_size"] == "2"  # both processes trained


def test_the_paper_configuration_trains_and_validates_twice_on_cpu(tmp_path_factory):
    project = trained_project_copy(tmp_path_factory, "paper")
    stage = {
        "training": STEPS,
        "sampler": {"p_works": 4, "k_items": 2},
        "loader": {"num_workers": 1},
        "validation": {"batch_size": 8},
        "checkpoint_dir": "data/06_models/default/checkpoints/paper",
    }
    configure_project("coverhunter")
    with inside(project):
        run_session(
            project, ["coarse_training"], {"coarse_training": stage, "device": "cpu"}, "paper"
        )
    client, runs = _runs(project)
    new = max(runs, key=lambda run: run.info.start_time)
    assert [m.step for m in client.get_metric_history(new.info.run_id, "coarse/val/mAP")] == [2, 4]
    # the paper's network, not conf/base's
    assert new.data.params["coarse_training.model.n_blocks"] == "6"
    assert new.data.params["coarse_training.model.d_model"] == "256"
    mlflow.end_run()
