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
                nodes.build_gallery_index,
                inputs=["gallery_chunks", "fine_model", "params:indexing", "params:feature_cqt"],
                outputs=["gallery_index", "gallery_index_info"],
                name="build_gallery_index_node",
            ),
        ]
    )
