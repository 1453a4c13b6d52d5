"""`kedro run` interrupted (SIGINT, SIGTERM) or killed (SIGKILL) during a node: MLflow records the
run KILLED, never FINISHED, and never leaves it RUNNING for good."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time

import mlflow
import pytest
import yaml
from fault_helpers import KEDRO, csv_params, kedro_env, mlflow_runs, user_listing
from project_helpers import TINY_SYNTHETIC, run_session

from coverhunter.hooks import END_TAG, HOST_TAG, PID_TAG, mark_orphaned_runs

# A first node that renders audio for a while: long enough to be interrupted in the middle.
SLOW_INGEST = {
    "ingest": {
        "source": "synthetic",
        "synthetic": {"root": "data/01_raw/synthetic", **TINY_SYNTHETIC, "n_works": 60},
    }
}


def _start_slow_run(project) -> tuple[subprocess.Popen, list[str]]:
    """`kedro run --pipelines ingest` in a subprocess, returned once its first node is running."""
    (project / "conf/local/parameters_ingest.yml").write_text(yaml.safe_dump(SLOW_INGEST))
    process = subprocess.Popen(
        [KEDRO, "run", "--pipelines", "ingest"],
        cwd=project,
        env=kedro_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        for line in process.stdout:
            lines.append(line)
            if "Running node: generate_collection_node" in line:
                started.set()

    threading.Thread(target=read, daemon=True).start()
    if not started.wait(timeout=300):
        process.kill()
        pytest.fail("the run never started its first node:\n" + "".join(lines[-40:]))
    time.sleep(2.0)  # well inside the node (it renders for tens of seconds)
    assert process.poll() is None, "".join(lines[-40:])
    return process, lines


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_is_recorded_killed_and_ends_in_one_line(kedro_project, signum):
    process, lines = _start_slow_run(kedro_project)
    process.send_signal(signum)
    assert process.wait(timeout=180) == 128 + signum, "".join(lines[-40:])
    time.sleep(0.5)  # the reader thread takes the last lines
    name = signal.Signals(signum).name
    assert (
        lines[-1].strip()
        == f"kedro run: interrupted by {name}; the MLflow run is recorded as KILLED"
    )
    assert not any("Traceback" in line for line in lines)
    (run,) = mlflow_runs(kedro_project)
    assert run.info.status == "KILLED"
    assert run.data.tags[END_TAG] == f"interrupted by {name}"


def test_a_run_killed_outright_is_marked_killed_by_the_next_run(kedro_project, tmp_path):
    process, lines = _start_slow_run(kedro_project)
    process.kill()
    process.wait(timeout=60)
    (orphan,) = mlflow_runs(kedro_project)
    assert orphan.info.status == "RUNNING"  # nothing could record it: SIGKILL is not caught
    assert orphan.data.tags[PID_TAG] == str(process.pid)

    (kedro_project / "conf/local/parameters_ingest.yml").unlink()
    listing = user_listing(tmp_path / "user", [("a1", "A", "a1.wav"), ("a2", "A", "a2.wav")])
    run_session(kedro_project, ["ingest"], csv_params(listing))
    runs = {run.info.run_id: run for run in mlflow_runs(kedro_project)}
    assert runs[orphan.info.run_id].info.status == "KILLED"
    assert (
        f"process {process.pid} on {socket.gethostname()} was gone"
        in (runs[orphan.info.run_id].data.tags[END_TAG])
    )
    assert [run.info.status for run in runs.values()].count("FINISHED") == 1


def test_only_runs_whose_process_is_gone_are_marked(tmp_path):
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("runs", artifact_location=str(tmp_path / "mlruns"))
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = socket.gethostname()
    tags = {
        "alive": {HOST_TAG: host, PID_TAG: str(os.getpid())},
        "gone": {HOST_TAG: host, PID_TAG: str(dead.pid)},
        "elsewhere": {HOST_TAG: f"not-{host}", PID_TAG: str(dead.pid)},
        "untagged": {},
    }
    runs = {name: client.create_run(experiment, tags=t).info.run_id for name, t in tags.items()}
    current = client.create_run(experiment).info.run_id

    assert mark_orphaned_runs(client, experiment, current) == [runs["gone"]]
    status = {name: client.get_run(run_id).info.status for name, run_id in runs.items()}
    assert status == {
        "alive": "RUNNING",
        "gone": "KILLED",
        "elsewhere": "RUNNING",
        "untagged": "RUNNING",
    }
