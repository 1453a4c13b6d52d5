"""Note events measured in beats, and their placement in seconds (tempo and swing)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Note(NamedTuple):
    """One note of a score; pitch is relative so a version can put it in any key and octave."""

    onset: float  # beats from the start of the section
    duration: float  # beats
    pitch: int  # semitones above the tonic of the section's reference octave
    velocity: float  # 0-1, multiplies the note's amplitude


def beats_to_seconds(beats: np.ndarray, beat_s: float, swing: float) -> np.ndarray:
    """Times in seconds of positions `(N,)` given in beats.

    Swing moves the off-beat (half a beat) to `swing` of a beat, stretching the first half of
    each beat and compressing the second; `swing=0.5` is straight time.
    """
    if not 0.0 < swing < 1.0:
        raise ValueError(f"swing must lie in (0, 1), got {swing}")
    beats = np.asarray(beats, dtype=np.float64)
    whole = np.floor(beats)
    frac = beats - whole
    warped = np.where(frac < 0.5, frac * (swing / 0.5), swing + (frac - 0.5) * ((1 - swing) / 0.5))
    return (whole + warped) * beat_s
