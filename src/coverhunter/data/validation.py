"""Checking every listed recording before anything is trained on it.

Each recording is decoded once. A bad one is set aside with the reason (missing, unreadable,
zero-length, silent, too short, unsupported format, duplicate or empty id, an id that cannot be a
file name) and the rest go on. `audio_problem` is the check itself, shared with the query side of
`coverhunter identify`, so a query is refused for the same reasons, in the same words.
Long recordings are kept and marked truncated; multichannel audio is downmixed and any sample rate
is resampled later, both recorded in the manifest. Nothing here writes to the user's audio.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coverhunter.audio.io import AudioDecodeError, DecodedAudio, decode_audio
from coverhunter.data.manifest import REJECT_COLUMNS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidationConfig:
    sample_rate: int = 16000
    min_duration_s: float = 10.0
    max_duration_s: float = 600.0
    silence_peak_db: float = -60.0
    n_jobs: int = 2


@dataclass(frozen=True)
class RecordingCheck:
    duration_s: float = 0.0
    sample_rate: int = 0
    channels: int = 0
    truncated: bool = False
    reason: str | None = None  # None when the recording is usable


def audio_problem(decoded: DecodedAudio, config: ValidationConfig) -> str | None:
    """Why a decoded recording cannot be used (no samples, NaN, silent, too short), else None."""
    if decoded.samples.size == 0 or decoded.duration_s == 0:
        return "no audio samples (zero duration)"
    if not np.all(np.isfinite(decoded.samples)):
        return "audio holds NaN or infinite samples"
    peak = float(np.max(np.abs(decoded.samples)))
    peak_db = 20 * np.log10(peak) if peak > 0 else -np.inf
    if peak_db < config.silence_peak_db:
        return f"silent (peak {peak_db:.1f} dBFS below {config.silence_peak_db:.1f} dBFS)"
    if decoded.duration_s < config.min_duration_s:
        return f"too short ({decoded.duration_s:.2f} s < {config.min_duration_s:g} s)"
    return None


def check_recording(path: str, config: ValidationConfig) -> RecordingCheck:
    """Decode one file (at most max_duration_s of it) and say whether it is usable, and why not."""
    try:
        decoded = decode_audio(path, config.sample_rate, config.max_duration_s)
    except AudioDecodeError as error:
        return RecordingCheck(reason=error.reason)
    if (reason := audio_problem(decoded, config)) is not None:
        return RecordingCheck(reason=reason)
    duration_s = min(decoded.duration_s, config.max_duration_s)
    return RecordingCheck(
        duration_s=float(duration_s),
        sample_rate=decoded.sample_rate,
        channels=decoded.channels,
        truncated=decoded.duration_s > config.max_duration_s,
    )


# A file name holds at most this many bytes on the common file systems (ext4, APFS, NTFS).
_MAX_NAME_BYTES = 255


def file_name_problem(value: str) -> str | None:
    """Why `value` cannot be a file name (None when it can): ids name files and folders later
    (features, exports), so `../x`, `a/b`, `..` or a control character must never reach them."""
    if value in (".", ".."):
        return f"{value!r} names a folder"
    for separator in ("/", "\\"):
        if separator in value:
            return f"contains the path separator {separator!r}"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "contains a control character"
    if len(value.encode("utf-8", errors="surrogatepass")) > _MAX_NAME_BYTES:
        return f"longer than {_MAX_NAME_BYTES} bytes"
    return None


def _id_problems(listing: pd.DataFrame) -> pd.Series:
    """Reason per row for empty ids, ids that cannot be a file name and repeated perf_ids (the
    first occurrence is kept)."""
    reasons = pd.Series([None] * len(listing), index=listing.index, dtype=object)
    for column in ("perf_id", "work_id", "path"):
        empty = listing[column].isna() | (listing[column].astype(str).str.strip() == "")
        reasons[empty & reasons.isna()] = f"empty {column}"
    for column in ("perf_id", "work_id"):
        for row, value in listing[column][reasons.isna()].items():
            if (problem := file_name_problem(value)) is not None:
                reasons[row] = f"{column} {value!r} cannot be a file name ({problem})"
    first_path = listing.groupby("perf_id", sort=False).path.transform("first")
    duplicate = listing.perf_id.duplicated(keep="first") & reasons.isna()
    reasons[duplicate] = "duplicate perf_id (first listed at " + first_path[duplicate] + ")"
    return reasons


def validate_recordings(
    listing: pd.DataFrame, config: ValidationConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """listing (perf_id, work_id, path, ...) -> (usable rows with audio facts, rejects).

    Usable rows gain duration_s, sample_rate (the file's own), channels and truncated.
    Rejects have path, perf_id and reason.
    """
    for column in ("perf_id", "work_id", "path"):
        if column not in listing:
            raise ValueError(f"the performance listing has no {column!r} column")
    listing = listing.reset_index(drop=True).copy()
    listing["perf_id"] = listing.perf_id.astype(str)
    listing["work_id"] = listing.work_id.astype(str)
    id_reasons = _id_problems(listing)
    to_check = listing.index[id_reasons.isna()]
    with ThreadPoolExecutor(max(1, config.n_jobs)) as pool:
        checks = list(pool.map(lambda i: check_recording(listing.path[i], config), to_check))
    reasons = id_reasons.copy()
    facts = pd.DataFrame(
        index=listing.index, columns=["duration_s", "sample_rate", "channels", "truncated"]
    )
    for row, check in zip(to_check, checks, strict=True):
        reasons[row] = check.reason
        facts.loc[row] = [check.duration_s, check.sample_rate, check.channels, check.truncated]
    rejected = reasons.notna()
    rejects = listing.loc[rejected, ["path", "perf_id"]].assign(reason=reasons[rejected])
    for row in rejects.itertuples():
        logger.warning("rejected %s (perf_id %s): %s", row.path, row.perf_id, row.reason)
    # Our own measurements replace any the source listed under the same names.
    kept = listing.drop(columns=[c for c in facts.columns if c in listing.columns])
    usable = pd.concat([kept[~rejected], facts[~rejected]], axis=1)
    usable = usable.astype(
        {"duration_s": float, "sample_rate": int, "channels": int, "truncated": bool}
    )
    for row in usable[usable.truncated].itertuples():
        logger.warning(
            "%s is longer than %g s: kept, truncated to %g s",
            row.path,
            config.max_duration_s,
            config.max_duration_s,
        )
    logger.info("%d recordings usable, %d rejected", len(usable), len(rejects))
    return usable.reset_index(drop=True), rejects[REJECT_COLUMNS].reset_index(drop=True)
