from kedro.pipeline import Pipeline

from coverhunter.pipelines import stage_node
from coverhunter.pipelines.alignment import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            stage_node(
                nodes.embed_coarse_chunks,
                inputs=["manifest", "cqt_features", "coarse_model"],
                params=["alignment", "feature_cqt", "device", "training_works", "seed"],
                outputs="chunk_embeddings_coarse",
            ),
            stage_node(
                nodes.align_versions,
                inputs=["chunk_embeddings_coarse", "manifest"],
                params=["alignment", "feature_cqt", "seed"],
                outputs=[
                    "aligned_pairs",
                    "unaligned_pairs",
                    "alignment_report",
                    "alignment_metrics",
                    "alignment_offset_histogram",
                ],
            ),
        ]
    )
