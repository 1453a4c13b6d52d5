from kedro.pipeline import Pipeline

from coverhunter.pipelines import stage_node
from coverhunter.pipelines.feature_cqt import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            stage_node(
                nodes.compute_cqt,
                inputs=["manifest", "cqt_feature_writer"],
                params=["feature_cqt", "ingest", "device"],
                outputs=["cqt_features", "feature_rejects"],
            ),
        ]
    )
