"""A project moved or copied elsewhere reads and writes its own folder (manifest paths, MLflow
artifact locations); `make clean` removes what MLflow wrote; kedro-viz can order the layers."""

from __future__ import annotations

import shutil
import subprocess
import types
from collections import defaultdict
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest import REPO_ROOT, make_project
from fault_helpers import mlflow_runs, tree, user_listing, write_tone
from project_helpers import run_session
from trained_project import inside

from coverhunter.data.feature_store import FeatureStore

STORE = "data/04_feature/default/cqt_store"


def _repoint_mlflow(project: Path, old: Path) -> None:
    """The tests' MLflow URI is absolute (MLflow caches stores by URI); a real project's is
    `sqlite:///mlflow.db`, relative to wherever the project now is."""
    mlflow_yml = project / "conf/base/mlflow.yml"
    mlflow_yml.write_text(
        mlflow_yml.read_text().replace(f"sqlite:///{old}/", f"sqlite:///{project}/")
    )


def _params() -> dict:
    # audio inside the project, listed by a CSV beside it with relative paths
    return {
        "ingest": {"source": "csv", "path": "data/01_raw/user/listing.csv", "min_duration_s": 5.0}
    }


def _artifact_locations(project: Path) -> list[str]:
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("coverhunter")
    return [experiment.artifact_location] + [r.info.artifact_uri for r in mlflow_runs(project)]


@pytest.fixture
def first(tmp_path):
    """A project where ingest and feature_cqt ran on audio of its own data/01_raw."""
    (tmp_path / "first").mkdir()
    project = make_project(tmp_path / "first")
    user_listing(project / "data/01_raw/user", [("a1", "A", "a1.wav"), ("a2", "A", "a2.wav")])
    with inside(project):
        run_session(project, ["ingest", "feature_cqt"], _params())
    return project


def test_a_moved_project_reads_and_writes_its_own_folder(first, tmp_path):
    manifest = pd.read_parquet(first / "data/02_intermediate/default/manifest.parquet")
    assert sorted(manifest.path) == [
        "data/01_raw/user/audio/a1.wav",
        "data/01_raw/user/audio/a2.wav",
    ]
    assert all(
        location.startswith(f"file://{first}/mlruns") for location in _artifact_locations(first)
    )

    moved = tmp_path / "elsewhere" / "project"
    moved.parent.mkdir()
    shutil.move(first, moved)
    _repoint_mlflow(moved, first)
    shutil.rmtree(moved / STORE)  # features computed again: from the audio the manifest names
    with inside(moved):
        run_session(moved, ["feature_cqt"], _params())

    rejects = pd.read_parquet(moved / "data/02_intermediate/default/feature_rejects.parquet")
    assert rejects.empty, rejects
    assert set(FeatureStore(moved / STORE)) == {"a1", "a2"}
    locations = _artifact_locations(moved)
    assert len(locations) == 3  # the experiment, the first run, this run
    assert all(location.startswith(f"file://{moved}/mlruns") for location in locations), locations
    assert not first.exists()


def test_a_copied_project_leaves_the_original_alone(first, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(first, copy)
    _repoint_mlflow(copy, first)
    before = tree(first)
    write_tone(copy / "data/01_raw/user/audio/a1.wav", 6.0, freq=880.0)  # the copy's own audio
    with inside(copy):
        run_session(copy, ["feature_cqt"], _params())

    assert tree(first) == before  # nothing of the original read back or written
    ours, theirs = FeatureStore(copy / STORE), FeatureStore(first / STORE)
    assert not np.array_equal(ours["a1"], theirs["a1"])
    np.testing.assert_array_equal(ours["a2"], theirs["a2"])
    assert all(loc.startswith(f"file://{copy}/mlruns") for loc in _artifact_locations(copy))
    assert all(loc.startswith(f"file://{first}/mlruns") for loc in _artifact_locations(first))
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{copy / 'mlflow.db'}")
    run_id = mlflow_runs(copy)[-1].info.run_id  # the first run, made before the copy
    client.log_text(run_id, "probe", "probe.txt")
    assert list(copy.glob(f"mlruns/**/{run_id}/artifacts/probe.txt"))
    assert not list(first.glob(f"mlruns/**/{run_id}/artifacts/probe.txt"))


def test_make_clean_removes_the_mlflow_artifacts_and_keeps_raw_audio(tmp_path):
    shutil.copy(REPO_ROOT / "Makefile", tmp_path / "Makefile")
    for path in (
        "data/01_raw/mine/a.wav",
        "data/02_intermediate/default/manifest.parquet",
        "data/04_feature/default/cqt_store/index.parquet",
        "mlruns/1/abc/artifacts/model.json",
        "mlflow.db",
    ):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"x")
    result = subprocess.run(["make", "clean"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert sorted(tree(tmp_path)) == ["Makefile", "data/01_raw/mine/a.wav"]


def test_kedro_viz_can_order_every_layer():
    """kedro-viz's own layer sort, on every registered pipeline and the catalog's layers."""
    from kedro.framework.project import pipelines, settings
    from kedro.framework.startup import bootstrap_project
    from kedro_viz.services.layers import sort_layers

    bootstrap_project(REPO_ROOT)
    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(REPO_ROOT / "conf"), env="base", **settings.CONFIG_LOADER_ARGS
    )
    layer = {
        name: ((entry.get("metadata") or {}).get("kedro-viz") or {}).get("layer")
        for name, entry in loader["catalog"].items()
        if isinstance(entry, dict)
    }
    graph, children = {}, defaultdict(set)
    for pipeline in pipelines.values():
        for node in pipeline.nodes:
            graph[node.name] = types.SimpleNamespace(layer=None)
            for name in node.inputs:
                graph.setdefault(name, types.SimpleNamespace(layer=layer.get(name)))
                children[name].add(node.name)
            for name in node.outputs:
                graph.setdefault(name, types.SimpleNamespace(layer=layer.get(name)))
                children[node.name].add(name)
    assert sort_layers(graph, children) == [
        "raw",
        "intermediate",
        "feature",
        "model_input",
        "models",
        "model_output",
        "reporting",
    ]
