"""`kedro viz build` and `kedro catalog describe-datasets` work offline on the project."""

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from coverhunter.pipeline_registry import STAGES, register_pipelines

KEDRO = str(Path(sys.executable).parent / "kedro")


def _kedro(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"}
    result = subprocess.run(
        [KEDRO, *args], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The `kedro viz build` output of a fresh project copy: the API folder."""
    from conftest import make_project

    project = make_project(tmp_path_factory.mktemp("viz"))
    _kedro(project, "viz", "build")
    return project / "build" / "api"


@pytest.fixture(scope="module")
def lineage(built):
    return json.loads((built / "main").read_text())


def test_lineage_holds_every_pipeline_and_its_datasets(built, lineage):
    registered = register_pipelines()
    assert {p["id"] for p in lineage["pipelines"]} == set(registered)
    for name, pipeline in registered.items():
        graph = json.loads((built / "pipelines" / name).read_text())
        nodes = {n["name"]: n for n in graph["nodes"] if n["type"] == "data"}
        expected = {d for d in pipeline.datasets() if not d.startswith("params:")}
        assert expected <= set(nodes), (name, expected - set(nodes))
        unlayered = [d for d in expected if not nodes[d].get("layer")]
        assert not unlayered, (name, unlayered)


def test_stages_are_linked_in_order_through_datasets(lineage):
    successors = defaultdict(set)
    for edge in lineage["edges"]:
        successors[edge["source"]].add(edge["target"])
    stage_nodes = {
        stage: {
            n["id"] for n in lineage["nodes"] if n["type"] == "task" and stage in n["pipelines"]
        }
        for stage in STAGES
    }

    def reachable(start: set[str]) -> set[str]:
        seen, todo = set(start), list(start)
        while todo:
            for nxt in successors[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    for upstream, downstream in zip(STAGES, STAGES[1:], strict=False):
        assert reachable(stage_nodes[upstream]) & stage_nodes[downstream], (upstream, downstream)


def test_catalog_describe_datasets_lists_each_stage(built):
    output = _kedro(built.parents[1], "catalog", "describe-datasets").stdout
    for stage in STAGES:
        assert f"{stage}:" in output
    assert "manifest" in output and "cqt_features" in output
