"""Project pipelines. `__default__` runs the stages in their order, ingest through evaluation."""

from __future__ import annotations

from kedro.pipeline import Pipeline

# The stages in the order data flows through them; each is a package under pipelines/.
STAGES = (
    "ingest",
    "feature_cqt",
    "coarse_training",
    "alignment",
    "fine_training",
    "indexing",
    "evaluation",
)


def register_pipelines() -> dict[str, Pipeline]:
    import importlib

    pipelines = {
        name: importlib.import_module(f"coverhunter.pipelines.{name}").create_pipeline()
        for name in STAGES
    }
    pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    # Extra pipelines, not in __default__: built from the stages imported above, because a run
    # loads only the pipelines it names.
    inference = importlib.import_module("coverhunter.pipelines.inference.pipeline")
    pipelines["inference"] = inference.create_pipeline(pipelines)
    pipelines["identify"] = inference.create_identify_pipeline()
    return pipelines
