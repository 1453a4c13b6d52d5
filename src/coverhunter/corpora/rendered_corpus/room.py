"""A room around the band: a synthetic impulse response of exponentially decaying noise.

Real rooms tail off as dense, nearly random reflections whose energy falls by 60 dB in the
reverberation time RT60; decaying Gaussian noise after a short pre-delay is the textbook stand-in.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import fftconvolve

_DECAY_DB = 60.0


def room_impulse(
    rt60_s: float, sample_rate: int, rng: np.random.Generator, predelay_s: float = 0.01
) -> np.ndarray:
    """`(L,)` float32 impulse response of unit energy: `predelay_s` of silence, then noise whose
    amplitude falls by 60 dB over `rt60_s`."""
    if rt60_s <= 0 or predelay_s < 0:
        raise ValueError(f"rt60_s={rt60_s} must be positive and predelay_s={predelay_s} >= 0")
    n_tail = max(1, round(rt60_s * sample_rate))
    t = np.arange(n_tail) / sample_rate
    envelope = np.exp(-t * math.log(10.0 ** (_DECAY_DB / 20.0)) / rt60_s)
    tail = rng.standard_normal(n_tail) * envelope
    impulse = np.concatenate([np.zeros(round(predelay_s * sample_rate)), tail])
    return (impulse / np.sqrt(np.sum(impulse**2))).astype(np.float32)


def add_reverb(audio: np.ndarray, impulse: np.ndarray, wet: float) -> np.ndarray:
    """`(S,)` mix of the dry `audio (S,)` and its reverberation, the wet part at the dry RMS.

    `wet` in [0, 1] is the reverberation's share of the mix; the output keeps length S.
    """
    assert audio.ndim == 1 and impulse.ndim == 1, (audio.shape, impulse.shape)
    if not 0 <= wet <= 1:
        raise ValueError(f"wet={wet} must be in [0, 1]")
    reverb = fftconvolve(audio, impulse)[: len(audio)]
    dry_rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    wet_rms = float(np.sqrt(np.mean(reverb.astype(np.float64) ** 2)))
    scale = dry_rms / wet_rms if wet_rms > 0 else 0.0
    return ((1.0 - wet) * audio + wet * scale * reverb).astype(np.float32)
