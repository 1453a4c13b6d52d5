"""Shared fixtures: a throw-away copy of the Kedro project, a tiny synthetic collection, and
FluidSynth's soundfont for the tests that render the rendered corpus."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from project_helpers import start_from_scratch

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def fluidsynth_soundfont() -> Path:
    """The General-MIDI soundfont FluidSynth renders with; a test that asks for it (or for a
    fixture that does) is skipped where FluidSynth or a soundfont is missing (`make` installs
    both)."""
    # Imported here: the GPU machine loads this file for tests/test_cuda.py without soundfile.
    from coverhunter.corpora.rendered_corpus.fluidsynth import SOUNDFONT_PATHS

    found = [Path(p) for p in SOUNDFONT_PATHS if Path(p).is_file()]
    if shutil.which("fluidsynth") is None or not found:
        pytest.skip("fluidsynth or a General-MIDI soundfont missing: make system-deps")
    return found[0]


@pytest.fixture(scope="session", autouse=True)
def _user_cache_in_a_temp_folder(tmp_path_factory: pytest.TempPathFactory):
    """`coverhunter identify` keeps CQT kernels in the user's cache folder; tests keep theirs in
    a folder of their own (inherited by the commands they start)."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("user_cache"))


@pytest.fixture(autouse=True)
def _no_mlflow_state_between_tests():
    """Sessions set MLflow's process-wide experiment and run; no test inherits another's.

    Does nothing when no test has imported mlflow, e.g. where it is not installed (the GPU
    machine runs `tests/test_cuda.py` without it): then there is no state to reset.
    """
    environment = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    yield
    for key in [k for k in os.environ if k.startswith("MLFLOW_")]:
        if key not in environment:
            del os.environ[key]
    os.environ.update(environment)
    if "mlflow" not in sys.modules:
        return
    import mlflow
    from mlflow.tracking import fluent

    while mlflow.active_run() is not None:
        mlflow.end_run()
    fluent._active_experiment_id = None


@pytest.fixture
def kedro_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project folder (our conf/ and pyproject.toml, empty data/) to run sessions in.

    Runs happen there, so MLflow's sqlite store, data and plots land in the temp dir.
    """
    project = make_project(tmp_path)
    monkeypatch.chdir(project)
    return project


def make_project(tmp_path: Path) -> Path:
    """Our conf/ and pyproject.toml in `tmp_path/project`, with empty data layers."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO_ROOT / "pyproject.toml", project / "pyproject.toml")
    shutil.copytree(REPO_ROOT / "conf", project / "conf", ignore=shutil.ignore_patterns("local"))
    (project / "conf" / "local").mkdir()
    start_from_scratch(project)
    # MLflow caches its store per URI string, so a relative sqlite URI would follow the first test's
    # folder; each project gets an absolute one.
    mlflow_yml = project / "conf" / "base" / "mlflow.yml"
    mlflow_yml.write_text(
        mlflow_yml.read_text().replace("sqlite:///mlflow.db", f"sqlite:///{project}/mlflow.db")
    )
    (project / "src").mkdir()  # bootstrap_project wants it; the package itself is installed
    for layer in (
        "01_raw",
        "02_intermediate",
        "04_feature",
        "06_models",
        "07_model_output",
        "08_reporting",
    ):
        (project / "data" / layer).mkdir(parents=True)
    return project
