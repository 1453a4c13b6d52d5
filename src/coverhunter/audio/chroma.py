"""Chroma from the stored log-CQT: the pitch classes a re-rank aligns (`retrieval/pitch_rerank.py`).

The re-rank's pitch stage needs a chroma that follows the melody and the harmony while a cover
re-draws the accompaniment. Essentia's HPCP does it from the audio (spectral peaks, 100-4000 Hz,
each credited to the pitches it may be an overtone of, every frame scaled to a maximum of 1);
`cqt_chroma` does the same steps on the CQT the feature stage already stored, so that no new
dependency and no second pass over the audio is needed:

- `octaves`: the CQT octaves `[first, last)` folded (12 bins an octave from the CQT's `fmin`);
  leaving the lowest out leaves out the bass, which a cover re-draws with its harmony;
- `magnitude`: how a bin's dB becomes the amount it adds, `amplitude` (10^(dB/20)), `power`
  (its square: loud partials dominate, as in HPCP's squared peak magnitudes) or `log` (dB above
  `floor_db`);
- `peaks`: keep only the bins louder than both neighbours in frequency (the partials; a bin's
  leakage into the semitones beside it is dropped, as HPCP keeps spectral peaks only);
- `whiten_bins`: subtract from each bin's dB the mean over this many bins around it (a timbre's
  spectral envelope removed, leaving what stands out of it); 0: none;
- `harmonics`: credit each pitch class also to the fundamentals it may be harmonic 2..h of,
  weighted `harmonic_decay ** (h - 1)` (HPCP's harmonic weighting; 1: none);
- `frame_max`: scale every frame to a maximum of 1 before frames are averaged (HPCP's
  `unitMax`), so quiet passages count as much as loud ones.
"""

from __future__ import annotations

import numpy as np

__all__ = ["averaged_frames", "cqt_chroma"]

PITCH_CLASSES = 12

_MAGNITUDES = ("amplitude", "power", "log")


def _check(octaves: tuple[int, int], n_bins: int, magnitude: str, harmonics: int) -> None:
    first, last = octaves
    if n_bins % PITCH_CLASSES or not 0 <= first < last <= n_bins // PITCH_CLASSES:
        raise ValueError(
            f"chroma octaves {[first, last]} must lie within the {n_bins // PITCH_CLASSES} "
            f"octaves of {n_bins} CQT bins (12 an octave)"
        )
    if magnitude not in _MAGNITUDES:
        raise ValueError(f"chroma magnitude must be one of {_MAGNITUDES}, got {magnitude!r}")
    if harmonics < 1:
        raise ValueError(f"chroma harmonics must be at least 1, got {harmonics}")


def _local_peaks(db: np.ndarray) -> np.ndarray:
    """`(T, F)` -> bool, True where a bin is louder than the bin below and not quieter than the
    bin above (the edges compare with their one neighbour)."""
    below = np.concatenate([np.full_like(db[:, :1], -np.inf), db[:, :-1]], axis=1)
    above = np.concatenate([db[:, 1:], np.full_like(db[:, :1], -np.inf)], axis=1)
    return (db > below) & (db >= above)


def _whitened(db: np.ndarray, width: int) -> np.ndarray:
    """`(T, F)` dB less each bin's mean over `width` bins centred on it (edges: the bins there)."""
    kernel = np.ones(width, dtype=np.float64)
    padded_sum = np.apply_along_axis(lambda row: np.convolve(row, kernel, mode="same"), 1, db)
    counts = np.convolve(np.ones(db.shape[1]), kernel, mode="same")
    return db - padded_sum / counts


def _harmonic_shifts(harmonics: int, decay: float) -> list[tuple[int, float]]:
    """(semitones above the fundamental modulo 12, weight) of harmonics 1..`harmonics`."""
    return [
        (round(12 * np.log2(h)) % PITCH_CLASSES, decay ** (h - 1)) for h in range(1, harmonics + 1)
    ]


def cqt_chroma(
    log_cqt: np.ndarray,
    octaves: tuple[int, int] = (2, 7),
    magnitude: str = "amplitude",
    floor_db: float = -80.0,
    peaks: bool = False,
    whiten_bins: int = 0,
    harmonics: int = 1,
    harmonic_decay: float = 0.6,
    frame_max: bool = False,
) -> np.ndarray:
    """`(T, F)` log-CQT in dB (12 bins an octave, loudest cell 0 dB) -> `(T, 12)` chroma float32,
    bin 0 the pitch class of the CQT's `fmin` (see the module doc for each setting)."""
    assert log_cqt.ndim == 2, f"log_cqt must be (T, F), got {log_cqt.shape}"
    _check(tuple(octaves), log_cqt.shape[1], magnitude, harmonics)
    db = np.asarray(log_cqt, dtype=np.float64)
    if whiten_bins:
        db = _whitened(db, whiten_bins)
    if magnitude == "amplitude":
        amount = 10.0 ** (db / 20.0)
    elif magnitude == "power":
        amount = 10.0 ** (db / 10.0)
    else:
        amount = np.maximum(db - floor_db, 0.0)
    if peaks:
        amount = np.where(_local_peaks(db), amount, 0.0)
    first, last = octaves
    folded = amount[:, first * PITCH_CLASSES : last * PITCH_CLASSES]
    chroma = folded.reshape(len(folded), -1, PITCH_CLASSES).sum(1)
    if harmonics > 1:
        # energy at pitch class c may be harmonic h of the fundamental `shift` semitones below
        chroma = sum(
            w * np.roll(chroma, -shift, axis=1)
            for shift, w in _harmonic_shifts(harmonics, harmonic_decay)
        )
    if frame_max:
        chroma = chroma / np.maximum(chroma.max(1, keepdims=True), 1e-12)
    return chroma.astype(np.float32)


def averaged_frames(chroma: np.ndarray, frames: int) -> np.ndarray:
    """`(T, 12)` -> `(T // frames, 12)`: the mean of each run of `frames` frames (a short tail
    left out), a lower frame rate for the alignment."""
    assert chroma.ndim == 2, f"chroma must be (T, 12), got {chroma.shape}"
    if frames < 1:
        raise ValueError(f"frames averaged must be at least 1, got {frames}")
    usable = len(chroma) // frames * frames
    return chroma[:usable].reshape(-1, frames, chroma.shape[1]).mean(1)
