"""The manifest: one row per usable performance, the contract every later stage reads.

Columns (design contract first): perf_id, work_id, path, duration_s, sample_rate, split, then
trainable (a train-split work with at least two usable versions), n_versions (usable versions of
the work in the whole collection), channels, truncated, and true_offset_s where the source knows
where the shared material starts (synthetic and rendered collections).

`path` is relative to the project root (POSIX separators) for audio inside the project, e.g.
`data/01_raw/synthetic/syn_w0001/syn_w0001_p00.flac`, and absolute for audio elsewhere, so a
moved or copied project reads its own copy of the audio, never the old folder's.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

MANIFEST_COLUMNS = [
    "perf_id",
    "work_id",
    "path",
    "duration_s",
    "sample_rate",
    "split",
    "trainable",
    "n_versions",
    "channels",
    "truncated",
    "true_offset_s",
]
REJECT_COLUMNS = ["path", "perf_id", "reason"]
SPLITS = ("train", "val", "test")
_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}


def work_hash_fraction(work_id: str, seed: int) -> float:
    """A number in [0, 1) fixed by (seed, work_id) alone, so adding works never moves old ones."""
    digest = hashlib.blake2b(f"{seed}:{work_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def hash_split(work_id: str, seed: int, val_fraction: float, test_fraction: float) -> str:
    """train / val / test for one work by its hash."""
    if not (0 <= val_fraction and 0 <= test_fraction and val_fraction + test_fraction < 1):
        raise ValueError(
            f"split fractions must be >= 0 and sum below 1, got val={val_fraction} test={test_fraction}"
        )
    fraction = work_hash_fraction(work_id, seed)
    if fraction < test_fraction:
        return "test"
    if fraction < test_fraction + val_fraction:
        return "val"
    return "train"


def normalise_split(value: object) -> str | None:
    """A source's own split label in our words, or None when it gives none."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return None
    name = _SPLIT_ALIASES.get(str(value).strip().lower())
    if name is None:
        raise ValueError(f"unknown split label {value!r}; expected one of {sorted(_SPLIT_ALIASES)}")
    return name


def assign_splits(
    performances: pd.DataFrame, seed: int, val_fraction: float, test_fraction: float
) -> pd.Series:
    """Split per row: the source's own label when it has one, else the work's hash split.

    A work must not straddle splits; when a source's labels disagree within a work, the work's
    most common label wins and the disagreement is logged.
    """
    hashed = performances.work_id.map(lambda w: hash_split(w, seed, val_fraction, test_fraction))
    if "split" not in performances or performances.split.isna().all():
        return hashed
    given = performances.split.map(normalise_split)
    split = given.fillna(hashed)
    by_work = split.groupby(performances.work_id).agg(lambda s: s.value_counts().index[0])
    mixed = split.groupby(performances.work_id).nunique()
    for work_id in mixed[mixed > 1].index:
        logger.warning(
            "work %s has versions in several splits; all set to %s", work_id, by_work[work_id]
        )
    return performances.work_id.map(by_work)


def portable_path(path: str, root: str | Path) -> str:
    """`path` relative to `root` (POSIX) when it lies inside `root`, else `path` unchanged."""
    if not path or not os.path.isabs(path):
        return path
    absolute = os.path.abspath(path)
    for base in {os.path.abspath(root), os.path.realpath(root)}:
        if os.path.commonpath([absolute, base]) == base and absolute != base:
            return Path(os.path.relpath(absolute, base)).as_posix()
    return path


def finalise_manifest(
    usable: pd.DataFrame, seed: int, split: dict, root: str | Path | None = None
) -> pd.DataFrame:
    """Add split, n_versions and trainable to validated rows and order the columns.

    With `root` (the project root), paths inside it are written relative to it.
    """
    manifest = usable.copy()
    if root is not None:
        manifest["path"] = [portable_path(str(p), root) for p in manifest.path]
    manifest["split"] = assign_splits(
        manifest, seed, float(split["val_fraction"]), float(split["test_fraction"])
    )
    manifest["n_versions"] = manifest.groupby("work_id").perf_id.transform("size").astype(int)
    train_versions = (
        manifest[manifest.split == "train"].groupby("work_id").perf_id.transform("size")
    )
    manifest["trainable"] = False
    manifest.loc[train_versions.index, "trainable"] = (train_versions >= 2).to_numpy()
    if "true_offset_s" not in manifest:
        manifest["true_offset_s"] = np.nan
    singles = manifest[manifest.n_versions < 2].work_id.nunique()
    if singles:
        logger.info("%d works have a single version: kept for galleries, not trainable", singles)
    extra = [c for c in manifest.columns if c not in MANIFEST_COLUMNS]
    manifest = manifest[MANIFEST_COLUMNS + extra]
    return manifest.sort_values(["work_id", "perf_id"], kind="stable").reset_index(drop=True)


def empty_rejects() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=str) for c in REJECT_COLUMNS})
