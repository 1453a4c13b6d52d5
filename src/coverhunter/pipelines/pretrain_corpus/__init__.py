from coverhunter.pipelines.pretrain_corpus.pipeline import create_pipeline

__all__ = ["create_pipeline"]
