"""feature_cqt: one log-CQT array per performance, recomputed only when its audio changed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from coverhunter.audio.cqt import CQTConfig
from coverhunter.data.features import compute_cqt_features
from coverhunter.device import resolve_device


def compute_cqt(
    manifest: pd.DataFrame,
    cache_state: pd.DataFrame,
    feature_cqt: dict,
    ingest: dict,
    device: str,
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    cqt = CQTConfig(**feature_cqt["cqt"])
    if cqt.sample_rate != int(ingest["sample_rate"]):
        raise ValueError(
            f"feature_cqt.cqt.sample_rate {cqt.sample_rate} differs from ingest.sample_rate "
            f"{ingest['sample_rate']}"
        )
    return compute_cqt_features(
        manifest,
        cache_state,
        cqt,
        max_duration_s=float(ingest["max_duration_s"]),
        batch_size=int(feature_cqt["batch_size"]),
        n_jobs=int(feature_cqt["n_jobs"]),
        device=resolve_device(device),
    )
