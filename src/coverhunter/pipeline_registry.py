"""Project pipelines. `__default__` runs the stages in their order, ingest through evaluation."""

from __future__ import annotations

from kedro.pipeline import Pipeline

# The stages in the order data flows through them; each is a package under pipelines/.
STAGES = ("ingest", "feature_cqt")


def register_pipelines() -> dict[str, Pipeline]:
    import importlib

    pipelines = {
        name: importlib.import_module(f"coverhunter.pipelines.{name}").create_pipeline()
        for name in STAGES
    }
    pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    return pipelines
