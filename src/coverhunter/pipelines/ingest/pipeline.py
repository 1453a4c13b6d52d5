from kedro.pipeline import Node, Pipeline

from coverhunter.pipelines.ingest import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                nodes.generate_collection,
                inputs=["params:ingest", "params:seed"],
                outputs="ground_truth",
                name="generate_collection_node",
            ),
            Node(
                nodes.list_performances,
                inputs=["params:ingest", "ground_truth"],
                outputs="performance_listing",
                name="list_performances_node",
            ),
            Node(
                nodes.build_manifest,
                inputs=["performance_listing", "params:ingest", "params:seed"],
                outputs=["manifest", "ingest_rejects"],
                name="build_manifest_node",
            ),
        ]
    )
