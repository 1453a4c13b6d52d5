from coverhunter.pipelines.feature_cqt.pipeline import create_pipeline

__all__ = ["create_pipeline"]
