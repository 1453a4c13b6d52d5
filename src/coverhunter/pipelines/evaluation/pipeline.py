from kedro.pipeline import Pipeline

from coverhunter.pipelines import REGISTRY_TAG, stage_node
from coverhunter.pipelines.evaluation import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            stage_node(
                nodes.choose_qmax_queries,
                inputs=["gallery_embeddings"],
                params=["evaluation", "seed"],
                outputs="qmax_queries",
            ),
            stage_node(
                nodes.score_reference_models,
                inputs=[
                    "gallery_embeddings",
                    "cqt_features",
                    "coarse_model",
                    "fine_model",
                    "pretrained_model",
                    "qmax_queries",
                ],
                params=["indexing", "evaluation", "feature_cqt", "seed", "device"],
                outputs=["reference_scores", "reference_scores_on_qmax_queries"],
            ),
            stage_node(
                nodes.score_fine_model,
                inputs=["gallery_chunks", "gallery_embeddings", "gallery_index", "qmax_queries"],
                params=["evaluation", "seed"],
                outputs=[
                    "fine_scores",
                    "fine_scores_on_qmax_queries",
                    "fine_query_metrics",
                    "fine_rankings",
                    "evaluation_distance_histograms",
                    "fine_track_distances",
                ],
            ),
            stage_node(
                nodes.calibrate_decision,
                inputs=["manifest", "cqt_features", "fine_model"],
                params=["evaluation", "rerank", "indexing", "feature_cqt", "device", "ingest"],
                outputs="decision_calibration",
            ),
            stage_node(
                nodes.score_reranked,
                inputs=[
                    "fine_track_distances",
                    "gallery_embeddings",
                    "gallery_sequences",
                    "gallery_chroma",
                    "fine_rankings",
                    "decision_calibration",
                    "qmax_queries",
                    "manifest",
                ],
                params=["evaluation", "rerank", "feature_cqt", "seed"],
                outputs=[
                    "rerank_scores",
                    "rerank_scores_on_qmax_queries",
                    "evaluation_rankings",
                    "two_stage_report",
                ],
            ),
            stage_node(
                nodes.report_variation_map,
                inputs=["fine_query_metrics", "gallery_embeddings", "manifest"],
                outputs="evaluation_by_variation",
            ),
            stage_node(
                nodes.score_qmax_baseline,
                inputs=["gallery_embeddings", "manifest", "qmax_queries"],
                params=["evaluation", "feature_cqt", "ingest", "seed"],
                outputs="qmax_scores",
            ),
            stage_node(
                nodes.plot_embedding_map,
                inputs=["gallery_embeddings"],
                params=["evaluation", "seed"],
                outputs="evaluation_embedding_map",
            ),
            stage_node(
                nodes.report_metrics,
                inputs=[
                    "reference_scores",
                    "fine_scores",
                    "qmax_scores",
                    "reference_scores_on_qmax_queries",
                    "fine_scores_on_qmax_queries",
                    "rerank_scores",
                    "rerank_scores_on_qmax_queries",
                    "two_stage_report",
                ],
                outputs=["evaluation_metrics", "evaluation_mlflow_metrics"],
            ),
            stage_node(
                nodes.register_fine_model,
                inputs=["fine_model", "evaluation_metrics", "gallery_embeddings", "cqt_features"],
                params=["evaluation.registry", "indexing", "feature_cqt", "collection"],
                outputs="registered_model",
                tags=[REGISTRY_TAG],
            ),
            stage_node(
                nodes.register_shipped_model,
                inputs=[
                    "pretrained_model",
                    "evaluation_metrics",
                    "gallery_embeddings",
                    "cqt_features",
                ],
                params=["evaluation.registry", "indexing", "feature_cqt", "collection"],
                outputs="registered_shipped_model",
                tags=[REGISTRY_TAG],
            ),
        ]
    )
