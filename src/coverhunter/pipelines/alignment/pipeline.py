from kedro.pipeline import Node, Pipeline

from coverhunter.pipelines.alignment import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                nodes.embed_coarse_chunks,
                inputs=[
                    "manifest",
                    "cqt_features",
                    "coarse_model",
                    "params:alignment",
                    "params:feature_cqt",
                    "params:device",
                    "params:training_works",
                    "params:seed",
                ],
                outputs="chunk_embeddings_coarse",
                name="embed_coarse_chunks_node",
            ),
            Node(
                nodes.align_versions,
                inputs=[
                    "chunk_embeddings_coarse",
                    "manifest",
                    "params:alignment",
                    "params:feature_cqt",
                    "params:seed",
                ],
                outputs=[
                    "aligned_pairs",
                    "unaligned_pairs",
                    "alignment_report",
                    "alignment_metrics",
                    "alignment_offset_histogram",
                ],
                name="align_versions_node",
            ),
        ]
    )
