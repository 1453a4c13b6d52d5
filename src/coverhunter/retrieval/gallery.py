"""The gallery: chunk embeddings of the indexed performances, kept up to date without re-embedding.

Each performance's chunk rows carry a `fingerprint`: a hash of its features' fingerprint, the
model's fingerprint and the chunk settings. On the next indexing run a performance whose
fingerprint is unchanged keeps its stored rows; only new performances, changed recordings, or
every performance after a model or setting change are embedded again. Work labels are not part
of the fingerprint: relabelling a performance updates its `work_id` without re-embedding it.

The index info written beside the faiss index says which model and settings built it, so a
query can refuse an index made by another model (`check_index_info`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from coverhunter.retrieval.chunk_table import CHUNK_COLUMNS, embedding_matrix
from coverhunter.retrieval.index import ChunkIndex, build_index

logger = logging.getLogger(__name__)

GALLERY_COLUMNS = [*CHUNK_COLUMNS, "fingerprint"]
TRACK_COLUMNS = ["perf_id", "work_id", "n_chunks", "embedding"]


class ModelIndexMismatchError(ValueError):
    """The model at hand did not build the gallery index it is asked to search."""


@dataclass(frozen=True)
class ChunkSettings:
    """How a track is cut for retrieval: `chunk_s` chunks, a tail kept when >= `min_tail_s`."""

    chunk_s: float
    min_tail_s: float

    def __post_init__(self) -> None:
        if self.chunk_s <= 0 or self.min_tail_s < 0:
            raise ValueError(
                f"chunk_s must be positive and min_tail_s non-negative, got {self.chunk_s}, "
                f"{self.min_tail_s}"
            )

    def frames(self, frame_rate: float, min_frames: int = 1) -> tuple[int, int]:
        """(chunk_frames, min_tail_frames) at `frame_rate`.

        A tail is never shorter than `min_frames`, the embedder's shortest input.
        """
        chunk_frames = round(self.chunk_s * frame_rate)
        return chunk_frames, max(1, min_frames, round(self.min_tail_s * frame_rate))


def gallery_performances(
    manifest: pd.DataFrame, splits: Sequence[str], feature_fingerprints: pd.DataFrame
) -> pd.DataFrame:
    """perf_id, work_id, feature_fingerprint of the manifest rows in `splits` that have features.

    `feature_fingerprints` is the feature stage's table (perf_id, fingerprint); a performance
    without a row there has no features and cannot be indexed.
    """
    if isinstance(splits, str) or not splits:
        raise ValueError(f"gallery splits must be a non-empty list of split names, got {splits!r}")
    absent = sorted(set(splits) - set(manifest.split))
    if absent:
        # A small collection may have no performance in some split; a typo shows here too.
        logger.warning("no performance of the manifest is in split(s) %s", absent)
    rows = manifest.loc[manifest.split.isin(list(splits)), ["perf_id", "work_id"]]
    fingerprint_of = dict(
        zip(feature_fingerprints.perf_id, feature_fingerprints.fingerprint, strict=True)
    )
    rows = rows.assign(feature_fingerprint=rows.perf_id.map(fingerprint_of))
    rows = rows[rows.feature_fingerprint.notna()].reset_index(drop=True)
    if rows.empty:
        raise ValueError(
            f"the gallery is empty: no performance of splits {list(splits)} has features "
            f"(the manifest's splits: {sorted(set(manifest.split))})"
        )
    return rows


def with_fingerprints(
    performances: pd.DataFrame, model_fingerprint: str, settings: Mapping[str, Any]
) -> pd.DataFrame:
    """perf_id, work_id, fingerprint: each performance's gallery fingerprint (see module doc)."""
    shared = json.dumps({"model": model_fingerprint, **dict(settings)}, sort_keys=True)
    fingerprints = [
        hashlib.blake2b(f"{feature}:{shared}".encode(), digest_size=16).hexdigest()
        for feature in performances.feature_fingerprint
    ]
    return pd.DataFrame(
        {
            "perf_id": performances.perf_id.to_numpy(),
            "work_id": performances.work_id.to_numpy(),
            "fingerprint": fingerprints,
        }
    )


def split_reusable(
    previous: pd.DataFrame, wanted: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """-> (previous gallery rows still valid, rows of `wanted` that must be embedded).

    `previous` is the last run's gallery table (any table without an `embedding` column, e.g. the
    empty one of a first run, reuses nothing); `wanted` has perf_id, work_id, fingerprint.
    """
    if previous.empty or not {"embedding", "fingerprint"} <= set(previous.columns):
        return pd.DataFrame(columns=GALLERY_COLUMNS), wanted.reset_index(drop=True)
    current = dict(zip(wanted.perf_id, wanted.fingerprint, strict=True))
    valid = previous.perf_id.map(current) == previous.fingerprint
    kept = previous.loc[valid, GALLERY_COLUMNS].reset_index(drop=True)
    todo = wanted[~wanted.perf_id.isin(set(kept.perf_id))].reset_index(drop=True)
    return kept, todo


def merge_gallery(wanted: pd.DataFrame, kept: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Kept and newly embedded rows as one gallery table, in `wanted`'s order, current work ids."""
    parts = [part[GALLERY_COLUMNS] for part in (kept, new) if not part.empty]
    if not parts:
        return pd.DataFrame(columns=GALLERY_COLUMNS)
    table = pd.concat(parts, ignore_index=True)
    position = {perf_id: i for i, perf_id in enumerate(wanted.perf_id)}
    table["work_id"] = table.perf_id.map(dict(zip(wanted.perf_id, wanted.work_id, strict=True)))
    order = np.lexsort((table.chunk_idx.to_numpy(), table.perf_id.map(position).to_numpy()))
    return table.iloc[order].reset_index(drop=True)


def track_embeddings(table: pd.DataFrame) -> pd.DataFrame:
    """One row per performance: perf_id, work_id, n_chunks, embedding (mean of its unit chunk
    embeddings, re-normalised to unit length), in the table's order."""
    if table.empty:
        return pd.DataFrame(columns=TRACK_COLUMNS)
    codes, perf_ids = pd.factorize(table.perf_id)
    chunks = embedding_matrix(table)  # (N, D)
    sums = np.zeros((len(perf_ids), chunks.shape[1]), dtype=np.float64)
    np.add.at(sums, codes, chunks)
    means = sums / np.linalg.norm(sums, axis=1, keepdims=True).clip(min=1e-12)
    first = table.groupby(codes, sort=True).head(1)
    return pd.DataFrame(
        {
            "perf_id": np.asarray(perf_ids, dtype=str),
            "work_id": first.work_id.to_numpy().astype(str),
            "n_chunks": np.bincount(codes, minlength=len(perf_ids)),
            "embedding": list(means.astype(np.float32)),
        }
    )


def index_from_table(table: pd.DataFrame, index: Mapping[str, Any]) -> ChunkIndex:
    """A faiss `ChunkIndex` of the gallery table's chunks; `index` holds `type` and its options."""
    if table.empty:
        raise ValueError("cannot index an empty gallery")
    options = {key: value for key, value in index.items() if key != "type"}
    return build_index(
        embedding_matrix(table),
        table.perf_id.to_numpy().astype(str),
        table.start_s.to_numpy(),
        index.get("type", "flat"),
        **options,
    )


def index_info(
    chunk_index: ChunkIndex, model_fingerprint: str, settings: Mapping[str, Any]
) -> dict[str, Any]:
    """What is stored beside the index: the model that embedded it and the chunk settings."""
    return {
        "model_fingerprint": model_fingerprint,
        "n_chunks": chunk_index.n_chunks,
        "n_performances": int(np.unique(chunk_index.chunk_perf_ids).size),
        "dim": chunk_index.dim,
        **dict(settings),
    }


def check_index_info(info: Mapping[str, Any], model_fingerprint: str) -> None:
    """Raise `ModelIndexMismatchError` unless the index was built by the model with this hash."""
    built_by = info.get("model_fingerprint")
    if built_by != model_fingerprint:
        raise ModelIndexMismatchError(
            f"the gallery index was built by model {built_by!r} but the model at hand is "
            f"{model_fingerprint!r}; run the indexing pipeline again (kedro run --pipelines "
            "indexing) so the index matches the model"
        )
