from kedro.pipeline import Pipeline

from coverhunter.pipelines import stage_node
from coverhunter.pipelines.fine_training import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            stage_node(
                nodes.train_fine_model,
                inputs=["manifest", "cqt_features", "aligned_pairs", "coarse_model"],
                params=["fine_training", "feature_cqt", "seed", "device", "training_works"],
                outputs=["fine_model", "fine_training_history"],
            ),
        ]
    )
