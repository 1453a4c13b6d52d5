"""The harmony under a single melody: chords that arrangers can voice as an accompaniment.

Folk tunes come as a bare melody, a few with chord symbols. Where the symbols are missing, each
bar gets the diatonic triad that covers most of the melody's sounding time in it (its root counts
half again), as a musician harmonising a tune by ear would start. The chords are a property of the
work, so every version that adds an accompaniment plays the same harmony, voiced its own way.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# Scale degrees (semitones above the tonic) and the triads on them, in the order a tie is
# resolved: tonic, dominant, subdominant, then the rest. Minor uses the harmonic minor's V.
_TRIADS = {
    "major": ((0, (0, 4, 7)), (7, (7, 11, 2)), (5, (5, 9, 0)), (9, (9, 0, 4)), (2, (2, 5, 9)), (4, (4, 7, 11))),
    "minor": ((0, (0, 3, 7)), (7, (7, 11, 2)), (5, (5, 8, 0)), (8, (8, 0, 3)), (3, (3, 7, 10)), (10, (10, 2, 5))),
}  # fmt: skip
_ROOT_BONUS = 0.5


class Chord(NamedTuple):
    """A chord held from `onset` for `duration` quarter notes."""

    onset: float
    duration: float
    root: int  # pitch class 0-11
    pcs: tuple[int, ...]  # its pitch classes, ascending


def _bar_weights(melody: np.ndarray, start: float, end: float) -> np.ndarray:
    """`(12,)` quarter notes that each pitch class sounds within `[start, end)`."""
    overlap = np.minimum(melody[:, 0] + melody[:, 1], end) - np.maximum(melody[:, 0], start)
    weights = np.zeros(12)
    np.add.at(weights, melody[:, 2].astype(np.int64) % 12, np.clip(overlap, 0.0, None))
    return weights


def harmonise(
    melody: np.ndarray, bar_offsets: np.ndarray, length_q: float, tonic: int, mode: str
) -> tuple[Chord, ...]:
    """One diatonic triad per bar for `melody (N, 3)` (onset, duration, pitch) in `tonic` `mode`.

    A bar without melody keeps the previous chord (the tonic at the start).
    """
    assert melody.ndim == 2 and melody.shape[1] == 3, melody.shape
    if mode not in _TRIADS:
        raise ValueError(f"mode={mode!r} must be one of {sorted(_TRIADS)}")
    triads = [
        ((tonic + root) % 12, tuple(sorted((tonic + pc) % 12 for pc in pcs)))
        for root, pcs in _TRIADS[mode]
    ]
    ends = [*bar_offsets[1:], length_q]
    chords, previous = [], triads[0]
    for start, end in zip(bar_offsets, ends, strict=True):
        if end <= start:
            continue
        weights = _bar_weights(melody, float(start), float(end))
        if weights.sum() > 0:
            scores = [
                weights[list(pcs)].sum() + _ROOT_BONUS * weights[root] for root, pcs in triads
            ]
            previous = triads[int(np.argmax(scores))]  # argmax keeps the first of equal scores
        chords.append(Chord(float(start), float(end - start), *previous))
    return tuple(chords)


def clip_chords(chords: tuple[Chord, ...], start_q: float, end_q: float) -> tuple[Chord, ...]:
    """The chords sounding within `[start_q, end_q)`, cut to it, moved to start at 0."""
    out = []
    for chord in chords:
        onset, end = max(chord.onset, start_q), min(chord.onset + chord.duration, end_q)
        if end > onset:
            out.append(chord._replace(onset=onset - start_q, duration=end - onset))
    return tuple(out)
