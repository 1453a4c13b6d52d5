from kedro.pipeline import Node, Pipeline

from coverhunter.pipelines.feature_cqt import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                nodes.compute_cqt,
                inputs=[
                    "manifest",
                    "cqt_feature_writer",
                    "params:feature_cqt",
                    "params:ingest",
                    "params:device",
                ],
                outputs=["cqt_features", "feature_rejects"],
                name="compute_cqt_node",
            ),
        ]
    )
