from kedro.pipeline import Node, Pipeline

from coverhunter.pipelines.fine_training import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                nodes.train_fine_model,
                inputs=[
                    "manifest",
                    "cqt_features",
                    "aligned_pairs",
                    "coarse_model",
                    "params:fine_training",
                    "params:feature_cqt",
                    "params:seed",
                    "params:device",
                    "params:training_works",
                ],
                outputs=["fine_model", "fine_training_history"],
                name="train_fine_model_node",
            ),
        ]
    )
