from kedro.pipeline import Node, Pipeline

from coverhunter.pipelines.evaluation import nodes

# Nodes with this tag register the model in MLflow; `inference` leaves them out.
REGISTRY_TAG = "model_registry"


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                nodes.choose_qmax_queries,
                inputs=["gallery_embeddings", "params:evaluation", "params:seed"],
                outputs="qmax_queries",
                name="choose_qmax_queries_node",
            ),
            Node(
                nodes.score_reference_models,
                inputs=[
                    "gallery_embeddings",
                    "cqt_features",
                    "coarse_model",
                    "fine_model",
                    "pretrained_model",
                    "qmax_queries",
                    "params:indexing",
                    "params:evaluation",
                    "params:feature_cqt",
                    "params:seed",
                    "params:device",
                ],
                outputs=["reference_scores", "reference_scores_on_qmax_queries"],
                name="score_reference_models_node",
            ),
            Node(
                nodes.score_fine_model,
                inputs=[
                    "gallery_chunks",
                    "gallery_embeddings",
                    "gallery_index",
                    "qmax_queries",
                    "params:evaluation",
                    "params:seed",
                ],
                outputs=[
                    "fine_scores",
                    "fine_scores_on_qmax_queries",
                    "fine_query_metrics",
                    "fine_rankings",
                    "evaluation_distance_histograms",
                    "fine_track_distances",
                ],
                name="score_fine_model_node",
            ),
            Node(
                nodes.calibrate_decision,
                inputs=[
                    "manifest",
                    "cqt_features",
                    "fine_model",
                    "params:evaluation",
                    "params:rerank",
                    "params:indexing",
                    "params:feature_cqt",
                    "params:device",
                    "params:ingest",
                ],
                outputs="decision_calibration",
                name="calibrate_decision_node",
            ),
            Node(
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
                    "params:evaluation",
                    "params:rerank",
                    "params:seed",
                ],
                outputs=[
                    "rerank_scores",
                    "rerank_scores_on_qmax_queries",
                    "evaluation_rankings",
                    "two_stage_report",
                ],
                name="score_reranked_node",
            ),
            Node(
                nodes.report_variation_map,
                inputs=["fine_query_metrics", "gallery_embeddings", "manifest"],
                outputs="evaluation_by_variation",
                name="report_variation_map_node",
            ),
            Node(
                nodes.score_qmax_baseline,
                inputs=[
                    "gallery_embeddings",
                    "manifest",
                    "qmax_queries",
                    "params:evaluation",
                    "params:feature_cqt",
                    "params:ingest",
                    "params:seed",
                ],
                outputs="qmax_scores",
                name="score_qmax_baseline_node",
            ),
            Node(
                nodes.plot_embedding_map,
                inputs=["gallery_embeddings", "params:evaluation", "params:seed"],
                outputs="evaluation_embedding_map",
                name="plot_embedding_map_node",
            ),
            Node(
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
                name="report_metrics_node",
            ),
            Node(
                nodes.register_fine_model,
                inputs=[
                    "fine_model",
                    "evaluation_metrics",
                    "gallery_embeddings",
                    "cqt_features",
                    "params:evaluation.registry",
                    "params:indexing",
                    "params:feature_cqt",
                    "params:collection",
                ],
                outputs="registered_model",
                name="register_fine_model_node",
                tags=[REGISTRY_TAG],
            ),
        ]
    )
