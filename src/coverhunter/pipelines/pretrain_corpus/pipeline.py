from kedro.pipeline import Pipeline

from coverhunter.pipelines import stage_node
from coverhunter.pipelines.pretrain_corpus import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            stage_node(
                nodes.build_pretrain_corpus,
                inputs=["cqt_feature_writer"],
                params=["pretrain_corpus", "ingest", "feature_cqt", "seed"],
                outputs=["manifest", "cqt_features", "ingest_rejects"],
            ),
        ]
    )
