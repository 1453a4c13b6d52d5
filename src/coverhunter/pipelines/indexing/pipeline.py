from kedro.pipeline import Pipeline

from coverhunter.pipelines import stage_node
from coverhunter.pipelines.indexing import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            stage_node(
                nodes.embed_gallery,
                inputs=["manifest", "cqt_features", "gallery_chunks_state", "fine_model"],
                params=["gallery_splits", "indexing", "feature_cqt", "device"],
                outputs=["gallery_chunks", "gallery_embeddings"],
            ),
            stage_node(
                nodes.embed_gallery_sequences,
                inputs=["gallery_embeddings", "cqt_features", "fine_model"],
                params=["rerank", "indexing", "feature_cqt", "device"],
                outputs="gallery_sequences",
            ),
            stage_node(
                nodes.chroma_gallery,
                inputs=["gallery_embeddings", "cqt_features", "manifest"],
                params=["rerank", "feature_cqt", "ingest"],
                outputs="gallery_chroma",
            ),
            stage_node(
                nodes.build_gallery_index,
                inputs=["gallery_chunks", "fine_model"],
                params=["indexing", "feature_cqt", "rerank"],
                outputs=["gallery_index", "gallery_index_info"],
            ),
        ]
    )
