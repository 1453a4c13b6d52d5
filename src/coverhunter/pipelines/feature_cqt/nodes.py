"""feature_cqt: every performance's log-CQT in the feature store, recomputed only when its audio
or settings changed (or its stored bytes fail their CRC); recordings that can no longer be read
are set aside in `feature_rejects` with the reason."""

from __future__ import annotations

import pandas as pd

from coverhunter.audio.cqt import CQTConfig
from coverhunter.data.feature_store import FeatureStore, FeatureStoreWriter
from coverhunter.data.features import write_cqt_features
from coverhunter.device import resolve_device


def compute_cqt(
    manifest: pd.DataFrame,
    writer: FeatureStoreWriter,
    feature_cqt: dict,
    ingest: dict,
    device: str,
) -> tuple[FeatureStore, pd.DataFrame]:
    cqt = CQTConfig(**feature_cqt["cqt"])
    if cqt.sample_rate != int(ingest["sample_rate"]):
        raise ValueError(
            f"feature_cqt.cqt.sample_rate {cqt.sample_rate} differs from ingest.sample_rate "
            f"{ingest['sample_rate']}"
        )
    try:
        return write_cqt_features(
            manifest,
            writer,
            cqt,
            max_duration_s=float(ingest["max_duration_s"]),
            batch_size=int(feature_cqt["batch_size"]),
            n_jobs=int(feature_cqt["n_jobs"]),
            device=resolve_device(device),
            commit_every=int(feature_cqt["commit_every"]),
        )
    finally:
        writer.close()
