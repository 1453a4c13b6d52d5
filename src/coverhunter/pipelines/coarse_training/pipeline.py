from kedro.pipeline import Node, Pipeline

from coverhunter.pipelines.coarse_training import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                nodes.train_coarse_model,
                inputs=[
                    "manifest",
                    "cqt_features",
                    "pretrained_model",
                    "params:coarse_training",
                    "params:feature_cqt",
                    "params:seed",
                    "params:device",
                    "params:training_works",
                ],
                outputs=["coarse_model", "coarse_training_history"],
                name="train_coarse_model_node",
            ),
        ]
    )
