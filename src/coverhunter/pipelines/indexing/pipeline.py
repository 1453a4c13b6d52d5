from kedro.pipeline import Node, Pipeline

from coverhunter.pipelines.indexing import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                nodes.embed_gallery,
                inputs=[
                    "manifest",
                    "cqt_features",
                    "gallery_chunks_state",
                    "fine_model",
                    "params:gallery_splits",
                    "params:indexing",
                    "params:feature_cqt",
                    "params:device",
                ],
                outputs=["gallery_chunks", "gallery_embeddings"],
                name="embed_gallery_node",
            ),
            Node(
                nodes.embed_gallery_sequences,
                inputs=[
                    "gallery_embeddings",
                    "cqt_features",
                    "fine_model",
                    "params:rerank",
                    "params:indexing",
                    "params:feature_cqt",
                    "params:device",
                ],
                outputs="gallery_sequences",
                name="embed_gallery_sequences_node",
            ),
            Node(
                nodes.chroma_gallery,
                inputs=[
                    "gallery_embeddings",
                    "cqt_features",
                    "manifest",
                    "params:rerank",
                    "params:feature_cqt",
                    "params:ingest",
                ],
                outputs="gallery_chroma",
                name="chroma_gallery_node",
            ),
            Node(
                nodes.build_gallery_index,
                inputs=[
                    "gallery_chunks",
                    "fine_model",
                    "params:indexing",
                    "params:feature_cqt",
                    "params:rerank",
                ],
                outputs=["gallery_index", "gallery_index_info"],
                name="build_gallery_index_node",
            ),
        ]
    )
