"""Helpers for tests that run real Kedro sessions on a throw-away project copy."""

from __future__ import annotations

from pathlib import Path

# A collection small enough to ingest, featurise and train on in seconds.
TINY_SYNTHETIC = {
    "n_works": 6,
    "min_versions": 2,
    "max_versions": 3,
    "min_duration_s": 12.0,
    "max_duration_s": 18.0,
    "max_prelude_s": 4.0,
    "max_outro_s": 3.0,
    "n_jobs": 1,
}


def run_session(
    project: Path,
    pipelines: list[str],
    params: dict | None = None,
    env: str | None = None,
    node_names: list[str] | None = None,
):
    """Run pipelines (only `node_names` of them, when given) in a real KedroSession; params are
    nested dicts (dotted keys are ignored)."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=params or {}, env=env) as session:
        return session.run(pipeline_names=pipelines, node_names=node_names)


def tiny_params(**overrides) -> dict:
    """Runtime parameters for a run on the tiny synthetic collection."""
    params = {
        "ingest": {
            "source": "synthetic",  # the default (rendered_corpus) takes minutes to render
            "synthetic": {"root": "data/01_raw/synthetic", **TINY_SYNTHETIC},
            "min_duration_s": 5.0,
        }
    }
    for key, value in overrides.items():
        params[key] = value if not isinstance(value, dict) else {**params.get(key, {}), **value}
    return params


def start_from_scratch(project: Path) -> None:
    """A test project's src/ is empty, so it has no shipped model to start from (conf/base's
    `init: pretrained`): its runs start from nothing unless a test ships one and says so."""
    (project / "conf" / "local" / "parameters_tests.yml").write_text(
        "coarse_training:\n  init: scratch\n"
    )
