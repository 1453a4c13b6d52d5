"""The re-rank's pitch stage's chroma of a recording, the gallery's and a query's alike.

`rerank.pitch.source` says where it comes from: `cqt`, the chroma of the log-CQT every recording
already has (`retrieval/pitch_rerank.py`, `chroma_sequence`); `hpcp`, the HPCP of the decoded
audio (`audio/hpcp.py`: Essentia's, to float32 rounding, without Essentia and 2.5x faster),
averaged to the same rate. One function for both sides, so that a query's chroma is made exactly
as the gallery's stored ones were.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from coverhunter.audio.chroma import averaged_frames
from coverhunter.audio.hpcp import hpcp
from coverhunter.audio.io import load_audio, peak_normalise
from coverhunter.retrieval.pitch_rerank import PitchSettings, chroma_sequence

__all__ = ["performance_chromas", "recording_chroma"]


def recording_chroma(
    log_cqt: np.ndarray, signal: np.ndarray | None, sample_rate: int, settings: PitchSettings
) -> torch.Tensor:
    """`(T', 12)` chroma of one recording: from its log-CQT `(T, F)` (source `cqt`) or from its
    peak-normalised audio `signal (S,)` at `sample_rate` (source `hpcp`)."""
    if settings.source == "cqt":
        return chroma_sequence(log_cqt, settings)
    assert signal is not None and signal.ndim == 1, "the hpcp source needs the audio (S,)"
    profile = hpcp(signal, sample_rate, **settings.chroma)
    return torch.from_numpy(averaged_frames(profile, settings.average_frames))


def performance_chromas(
    perf_ids: Sequence[str],
    log_cqt_of: Callable[[str], np.ndarray],
    path_of: pd.Series,
    sample_rate: int,
    max_duration_s: float | None,
    settings: PitchSettings,
) -> list[torch.Tensor]:
    """The chroma of each of `perf_ids` (`recording_chroma`): its stored CQT, and for the `hpcp`
    source its audio (`path_of`: perf_id -> the manifest's path, decoded as ingest does)."""

    def signal(perf_id: str) -> np.ndarray | None:
        if settings.source == "cqt":
            return None
        return peak_normalise(load_audio(path_of[perf_id], sample_rate, max_duration_s))

    return [recording_chroma(log_cqt_of(p), signal(p), sample_rate, settings) for p in perf_ids]
