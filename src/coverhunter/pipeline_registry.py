"""Project pipelines. `__default__` runs the stages in their order, ingest through evaluation;
`pretrain_corpus` and `pretrain` (it, then the training stages) run only when named."""

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

# What the pretraining run trains after building its corpus (which replaces ingest and feature_cqt).
PRETRAIN_STAGES = ("coarse_training", "alignment", "fine_training")


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
    pipelines["gallery"] = inference.create_gallery_pipeline(pipelines)
    pipelines["identify"] = inference.create_identify_pipeline()
    # The pretraining run (`kedro run --env pretrain --pipelines pretrain`): the rendered works
    # straight into the feature store, then the training stages on them.
    pretrain_corpus = importlib.import_module("coverhunter.pipelines.pretrain_corpus")
    pipelines["pretrain_corpus"] = pretrain_corpus.create_pipeline()
    pipelines["pretrain"] = sum(
        (pipelines[name] for name in PRETRAIN_STAGES), pipelines["pretrain_corpus"]
    )
    return pipelines
