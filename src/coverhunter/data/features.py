"""CQT features for every performance of a manifest, skipping those whose audio did not change.

A feature's fingerprint is a hash of the audio file's bytes and of every setting that shapes the
array (CQT settings, sample rate, truncation length). A row whose fingerprint matches the previous
run's is not recomputed; everything else is decoded, resampled, peak-normalised, transformed
in batches on the given device and appended to the feature store (`data/feature_store.py`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Container, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt_batch
from coverhunter.audio.io import AudioDecodeError, load_audio, peak_normalise
from coverhunter.data.feature_store import FeatureStore, FeatureStoreWriter

logger = logging.getLogger(__name__)

_HASH_BLOCK = 1 << 20


def file_digest(path: str | Path) -> str:
    """blake2b of a file's bytes: the audio content, not its name or modification time."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def feature_fingerprint(path: str | Path, cqt: CQTConfig, max_duration_s: float | None) -> str:
    settings = json.dumps({"cqt": cqt.to_dict(), "max_duration_s": max_duration_s}, sort_keys=True)
    return hashlib.blake2b(f"{file_digest(path)}:{settings}".encode(), digest_size=16).hexdigest()


def stale_performances(
    manifest: pd.DataFrame, previous: pd.DataFrame, fingerprints: pd.Series
) -> pd.Series:
    """Boolean per manifest row: True when its features must be (re)computed."""
    known = dict(zip(previous.perf_id, previous.fingerprint, strict=True))
    return pd.Series(
        [known.get(p) != f for p, f in zip(manifest.perf_id, fingerprints, strict=True)],
        index=manifest.index,
    )


def _load_signal(path: str, sample_rate: int, max_duration_s: float | None) -> np.ndarray | None:
    try:
        return peak_normalise(load_audio(path, sample_rate, max_duration_s))
    except AudioDecodeError as error:
        # The file passed ingest but changed since; skip it rather than lose the whole run.
        logger.error("no CQT for %s: %s", error.path, error.reason)
        return None


def _batches(rows: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(rows), size):
        yield rows.iloc[start : start + size]


def compute_cqt_features(
    manifest: pd.DataFrame,
    writer: FeatureStoreWriter,
    cqt: CQTConfig,
    max_duration_s: float | None,
    batch_size: int,
    n_jobs: int,
    device: torch.device,
    commit_every: int = 256,
) -> FeatureStore:
    """Write the features of the manifest's stale performances into `writer`'s store.

    Arrays go to disk as each batch is transformed (RAM holds one batch), and the store is
    committed every `commit_every` recordings, so a killed run keeps what it had committed and
    the next run computes only the rest. Rows of performances no longer in the manifest, and of
    those whose audio no longer decodes, are dropped at the final commit. -> the committed store.
    """
    with ThreadPoolExecutor(max(1, n_jobs)) as pool:
        fingerprints = pd.Series(
            list(pool.map(lambda p: feature_fingerprint(p, cqt, max_duration_s), manifest.path)),
            index=manifest.index,
        )
        stale = stale_performances(manifest, writer.previous, fingerprints)
        logger.info(
            "CQT features: %d to compute, %d unchanged since the last run",
            int(stale.sum()),
            int((~stale).sum()),
        )
        extractor = CQTExtractor(cqt).to(device)
        todo = manifest[stale]
        since_commit = 0
        with tqdm(total=len(todo), desc="CQT", unit="rec", disable=None) as progress:
            for batch in _batches(todo, max(1, batch_size)):
                signals = list(
                    pool.map(lambda p: _load_signal(p, cqt.sample_rate, max_duration_s), batch.path)
                )
                decoded = [s is not None for s in signals]
                arrays = log_cqt_batch([s for s in signals if s is not None], extractor, device)
                for perf_id, fingerprint, array in zip(
                    batch.perf_id[decoded], fingerprints[batch.index][decoded], arrays, strict=True
                ):
                    writer.append(perf_id, array, fingerprint)
                progress.update(len(batch))
                since_commit += len(batch)
                if since_commit >= commit_every:
                    writer.commit()
                    since_commit = 0
    # Fresh rows of this manifest survive; a stale row that failed to decode must not.
    writer.keep(manifest.perf_id[~stale])
    return writer.commit()


def with_features(rows: pd.DataFrame, features: Container[str]) -> pd.DataFrame:
    """The rows (with a perf_id column) whose performance has features; the others are logged."""
    has = np.array([perf_id in features for perf_id in rows.perf_id], dtype=bool)
    if not has.all():
        missing = rows.perf_id[~has].tolist()
        logger.warning("no CQT features for %d performances, e.g. %s", len(missing), missing[:5])
    return rows[has].reset_index(drop=True)
