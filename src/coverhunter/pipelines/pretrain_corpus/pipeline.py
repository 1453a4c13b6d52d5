from kedro.pipeline import Node, Pipeline

from coverhunter.pipelines.pretrain_corpus import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                nodes.build_pretrain_corpus,
                inputs=[
                    "cqt_feature_writer",
                    "params:pretrain_corpus",
                    "params:ingest",
                    "params:feature_cqt",
                    "params:seed",
                ],
                outputs=["manifest", "cqt_features", "ingest_rejects"],
                name="build_pretrain_corpus_node",
            ),
        ]
    )
