from kedro.pipeline import Pipeline

from coverhunter.pipelines import stage_node
from coverhunter.pipelines.coarse_training import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            stage_node(
                nodes.train_coarse_model,
                inputs=["manifest", "cqt_features", "pretrained_model"],
                params=["coarse_training", "feature_cqt", "seed", "device", "training_works"],
                outputs=["coarse_model", "coarse_training_history"],
            ),
        ]
    )
