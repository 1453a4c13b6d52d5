from kedro.pipeline import Pipeline

from coverhunter.pipelines import stage_node
from coverhunter.pipelines.ingest import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            stage_node(
                nodes.generate_collection,
                params=["ingest", "seed"],
                outputs="ground_truth",
            ),
            stage_node(
                nodes.list_performances,
                inputs=["params:ingest", "ground_truth"],
                outputs="performance_listing",
            ),
            stage_node(
                nodes.build_manifest,
                inputs=["performance_listing"],
                params=["ingest", "seed"],
                outputs=["manifest", "ingest_rejects"],
            ),
        ]
    )
