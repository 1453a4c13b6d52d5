from coverhunter.pipelines.indexing.pipeline import create_pipeline

__all__ = ["create_pipeline"]
