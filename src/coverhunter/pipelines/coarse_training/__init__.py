from coverhunter.pipelines.coarse_training.pipeline import create_pipeline

__all__ = ["create_pipeline"]
