"""CQT features for every performance of a manifest, skipping those whose audio did not change.

A feature's fingerprint is a hash of the audio file's bytes and of every setting that shapes the
array (CQT settings, sample rate, truncation length). A row whose fingerprint matches the previous
run's is not recomputed; everything else is decoded, resampled, peak-normalised and transformed
in batches on the given device.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt_batch
from coverhunter.audio.io import AudioDecodeError, load_audio, peak_normalise

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
    previous: pd.DataFrame,
    cqt: CQTConfig,
    max_duration_s: float | None,
    batch_size: int,
    n_jobs: int,
    device: torch.device,
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """-> (features of the stale performances {perf_id: (T, F)}, fingerprints of all of them)."""
    with ThreadPoolExecutor(max(1, n_jobs)) as pool:
        fingerprints = pd.Series(
            list(pool.map(lambda p: feature_fingerprint(p, cqt, max_duration_s), manifest.path)),
            index=manifest.index,
        )
        stale = stale_performances(manifest, previous, fingerprints)
        logger.info(
            "CQT features: %d to compute, %d unchanged since the last run",
            int(stale.sum()),
            int((~stale).sum()),
        )
        extractor = CQTExtractor(cqt).to(device)
        features: dict[str, np.ndarray] = {}
        n_frames = dict(zip(previous.perf_id, previous.n_frames, strict=True))
        todo = manifest[stale]
        with tqdm(total=len(todo), desc="CQT", unit="rec", disable=None) as progress:
            for batch in _batches(todo, max(1, batch_size)):
                signals = list(
                    pool.map(lambda p: _load_signal(p, cqt.sample_rate, max_duration_s), batch.path)
                )
                decoded = [s is not None for s in signals]
                perf_ids = batch.perf_id[decoded]
                arrays = log_cqt_batch([s for s in signals if s is not None], extractor, device)
                for perf_id, array in zip(perf_ids, arrays, strict=True):
                    features[perf_id] = array
                    n_frames[perf_id] = array.shape[0]
                progress.update(len(batch))
    done = manifest.perf_id.isin(n_frames.keys()).to_numpy()
    table = pd.DataFrame(
        {
            "perf_id": manifest.perf_id[done].to_numpy(),
            "fingerprint": fingerprints[done].to_numpy(),
            "n_frames": [int(n_frames[p]) for p in manifest.perf_id[done]],
        }
    )
    return features, table


def load_features(
    partitions: Mapping[str, Callable[[], np.ndarray]], perf_ids: Iterable[str]
) -> dict[str, np.ndarray]:
    """Materialise the lazily loaded feature partitions of `perf_ids`; missing ones are logged."""
    features, missing = {}, []
    for perf_id in perf_ids:
        if perf_id in partitions:
            features[perf_id] = np.asarray(partitions[perf_id](), dtype=np.float32)
        else:
            missing.append(perf_id)
    if missing:
        logger.warning("no CQT features for %d performances, e.g. %s", len(missing), missing[:5])
    return features
