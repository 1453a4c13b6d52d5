"""pretrain_corpus: thousands of rendered corpus works, straight into the feature store, as the
manifest of the pretraining collection (`corpora/pretraining_corpus/`)."""

from __future__ import annotations

import pandas as pd

from coverhunter.audio.cqt import CQTConfig
from coverhunter.corpora.pretraining_corpus.build import build_pretraining_corpus
from coverhunter.corpora.pretraining_corpus.config import pretraining_settings
from coverhunter.corpora.pretraining_corpus.manifest import pretraining_manifest
from coverhunter.data.feature_store import FeatureStore, FeatureStoreWriter
from coverhunter.data.manifest import empty_rejects


def build_pretrain_corpus(
    writer: FeatureStoreWriter,
    pretrain_corpus: dict,
    ingest: dict,
    feature_cqt: dict,
    seed: int,
) -> tuple[pd.DataFrame, FeatureStore, pd.DataFrame]:
    """Render (or resume) the pretraining works with the default collection's cover settings
    (`ingest.rendered_corpus`), never one of its works; -> manifest, features, no rejects."""
    try:
        config, render, default = pretraining_settings(pretrain_corpus, ingest["rendered_corpus"])
        table, store = build_pretraining_corpus(
            writer, config, render, default, CQTConfig(**feature_cqt["cqt"]), int(seed)
        )
    finally:
        writer.close()
    return pretraining_manifest(table, config, int(seed)), store, empty_rejects()
