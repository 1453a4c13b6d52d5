"""`inference`: ingest, features, indexing and evaluation of one collection with a trained model.

It is composed of the stage pipelines, which the registry passes in (a pipeline package never
imports another). The model is read from `trained_fine_model` / `trained_coarse_model`, the
catalog entries under `model_collection`, so the run scores the training collection's models
and writes only under its own `collection`. The gallery is every performance of the new
collection (`inference_gallery_splits`): none of it was trained on. All four evaluation rows are
kept (the untrained model takes the fine model's config, the coarse row needs the coarse model of
`model_collection`). The MLflow registration node is left out: scoring a model elsewhere does
not make it a new champion.

`gallery`: ingest, features and indexing of one collection with the shipped model
(`pretrained_model`, `src/coverhunter/pretrained/base/`): a library searched before anything is
trained. No evaluation, since a user's library has no ground truth (every performance is in the
gallery, `inference_gallery_splits`); the index info records `model_source: shipped`.

`identify`: one recording against the gallery of `collection`, with the model that built it (the
shipped one, or the fine model of `model_collection`); `coverhunter identify FILE` runs it and
substitutes the model entry (`MODEL_ENTRIES`).
"""

from collections.abc import Mapping

from kedro.pipeline import Node, Pipeline, pipeline

from coverhunter.pipelines import REGISTRY_TAG, stage_node
from coverhunter.pipelines.inference import nodes

# The stages inference reuses, in order.
PARTS = ("ingest", "feature_cqt", "indexing", "evaluation")
TRAINED_MODELS = {"fine_model": "trained_fine_model", "coarse_model": "trained_coarse_model"}
# The gallery pipeline's stages, and its model: the shipped one.
GALLERY_PARTS = ("ingest", "feature_cqt", "indexing")
SHIPPED_MODEL = "pretrained_model"
# The catalog entry of the model that built a gallery, by the index info's `model_source`
# (absent: "trained", the literal indexing writes by default: a pipeline imports no other).
MODEL_ENTRIES = {"trained": TRAINED_MODELS["fine_model"], nodes.SHIPPED_SOURCE: SHIPPED_MODEL}


def _gate(part: Pipeline, parameter: str, checked: str) -> Pipeline:
    """`part` with every node reading `checked` where it read `parameter`.

    The checked copy is the output of the target check, so no node of `part` can run (and write
    anything) before that check has passed. `pipeline(inputs=...)` refuses to rename parameters,
    so the nodes are copied with `Node._copy` (what that renaming itself uses), which keeps each
    node's input and output form (str, list or dict) and its arguments binding.
    """

    def rename(inputs):
        if isinstance(inputs, str):
            return checked if inputs == parameter else inputs
        if isinstance(inputs, dict):
            return {key: rename(value) for key, value in inputs.items()}
        return [rename(name) for name in inputs]

    return Pipeline(
        [n._copy(inputs=rename(n._inputs)) if parameter in n.inputs else n for n in part.nodes]
    )


def create_pipeline(stages: Mapping[str, Pipeline] | None = None, **kwargs) -> Pipeline:
    if stages is None or not set(PARTS) <= set(stages):
        raise ValueError(f"inference is composed of the stage pipelines {PARTS}; pass them in")
    check = stage_node(
        nodes.check_inference_target,
        params=["ingest", "collection", "model_collection"],
        outputs="inference_ingest",
    )
    data = _gate(stages["ingest"] + stages["feature_cqt"], "params:ingest", "inference_ingest")
    indexing = pipeline(
        stages["indexing"],
        inputs={"fine_model": TRAINED_MODELS["fine_model"]},
        parameters={"params:gallery_splits": "params:inference_gallery_splits"},
    )
    # The model registration (REGISTRY_TAG) is not part of inference.
    scoring = Pipeline([n for n in stages["evaluation"].nodes if REGISTRY_TAG not in n.tags])
    evaluation = pipeline(
        scoring, inputs={k: v for k, v in TRAINED_MODELS.items() if k in scoring.inputs()}
    )
    return Pipeline([check]) + data + indexing + evaluation


def create_gallery_pipeline(stages: Mapping[str, Pipeline] | None = None, **kwargs) -> Pipeline:
    if stages is None or not set(GALLERY_PARTS) <= set(stages):
        raise ValueError(
            f"gallery is composed of the stage pipelines {GALLERY_PARTS}; pass them in"
        )
    # Two checks, each gating what reads its output. Neither reads the other's output: one node
    # reading the model (model_input) and writing the ingest settings (raw) would make a cycle of
    # kedro-viz layers. Kedro runs the nodes that are ready in name order, so the model check
    # (`..._model_node`) runs first and a missing model stops the run before anything is read.
    checks = [
        Node(
            nodes.check_shipped_model,
            inputs=SHIPPED_MODEL,
            outputs="gallery_model",
            name="check_gallery_model_node",
        ),
        Node(
            nodes.check_gallery_target,
            inputs=["params:ingest", "params:collection", "params:model_collection"],
            outputs="gallery_ingest",
            name="check_gallery_target_node",
        ),
    ]
    data = _gate(stages["ingest"] + stages["feature_cqt"], "params:ingest", "gallery_ingest")
    indexing = pipeline(
        stages["indexing"],
        inputs={"fine_model": "gallery_model"},
        parameters={"params:gallery_splits": "params:inference_gallery_splits"},
    )
    return Pipeline(checks) + data + indexing


def create_identify_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            stage_node(
                nodes.identify_recording,
                inputs=[
                    "params:identify",
                    TRAINED_MODELS["fine_model"],
                    "gallery_index",
                    "gallery_index_info",
                    "gallery_embeddings",
                    "gallery_sequences",
                    "gallery_chroma",
                    "decision_calibration",
                ],
                params=["rerank", "device", "ingest"],
                outputs=["identify_results", "identify_decision"],
            ),
        ]
    )
