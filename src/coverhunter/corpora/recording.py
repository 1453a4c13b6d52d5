"""What makes a clean rendering a recording, alike for every generator: fades, noise at an SNR,
a loudness, and the 16-bit FLAC file it is kept as."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

NOISE_COLOURS = ("white", "pink")


def fade(samples: np.ndarray, n_in: int, n_out: int) -> np.ndarray:
    """A copy of `(S,)` with linear fades of `n_in` and `n_out` samples at its ends."""
    assert samples.ndim == 1, samples.shape
    out = samples.copy()
    n_in, n_out = min(n_in, len(out)), min(n_out, len(out))
    if n_in:
        out[:n_in] *= np.linspace(0.0, 1.0, n_in, endpoint=False, dtype=np.float32)
    if n_out:
        out[len(out) - n_out :] *= np.linspace(1.0, 0.0, n_out, endpoint=False, dtype=np.float32)
    return out


def coloured_noise(n_samples: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """`(n_samples,)` float32 noise of unit power, white or pink (power falling as 1/f)."""
    if colour not in NOISE_COLOURS:
        raise ValueError(f"unknown noise colour {colour!r}; choose one of {NOISE_COLOURS}")
    if colour == "white":
        noise = rng.standard_normal(n_samples, dtype=np.float32)
    else:
        # Shape white noise in a power-of-two FFT (odd lengths are many times slower), then crop.
        n_fft = 1 << max(n_samples - 1, 1).bit_length()
        spectrum = np.fft.rfft(rng.standard_normal(n_fft, dtype=np.float32))
        freqs = np.arange(len(spectrum), dtype=np.float32)
        freqs[0] = 1.0  # the DC bin keeps its (tiny) value rather than dividing by zero
        noise = np.fft.irfft(spectrum / np.sqrt(freqs), n_fft)[:n_samples].astype(np.float32)
    return noise / max(float(np.sqrt(np.mean(noise.astype(np.float64) ** 2))), 1e-12)


def mix_noise(
    signal: np.ndarray, snr_db: float, colour: str, rng: np.random.Generator
) -> np.ndarray:
    """`signal` (S,) plus noise at `snr_db` below the signal's mean power."""
    assert signal.ndim == 1, signal.shape
    power = float(np.mean(signal.astype(np.float64) ** 2))
    noise = coloured_noise(len(signal), colour, rng)
    return signal + noise * np.float32(math.sqrt(power / 10.0 ** (snr_db / 10.0)))


def finish_recording(
    audio: np.ndarray,
    sample_rate: int,
    end_fade_s: float,
    snr_db: float,
    noise: str,
    peak_db: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """`audio` (S,) faded out over `end_fade_s` (at most a quarter of it), with `noise` at
    `snr_db` below its power, scaled to a peak of `peak_db` dBFS: `(S,)` float32."""
    audio = fade(audio, 0, min(round(end_fade_s * sample_rate), len(audio) // 4))
    audio = mix_noise(audio, snr_db, noise, rng)
    peak = max(float(np.max(np.abs(audio))), 1e-12)
    return (audio * np.float32(10.0 ** (peak_db / 20.0) / peak)).astype(np.float32)


def encode_flac(audio: np.ndarray, sample_rate: int) -> bytes:
    """16-bit FLAC bytes of `(S,)` float audio in [-1, 1].

    Encoded through a temporary file, not a BytesIO: libsndfile writes a file object through
    Python callbacks, where an exception raised by a signal handler (`kedro run`'s Ctrl-C, see
    hooks.py) is swallowed with a printed traceback and the write fails with an AssertionError;
    into a file libsndfile writes from C, and the interrupt arrives after it returns."""
    assert audio.ndim == 1, audio.shape
    with tempfile.TemporaryDirectory(prefix="coverhunter-flac-") as folder:
        path = Path(folder) / "audio.flac"
        sf.write(path, audio, sample_rate, format="FLAC", subtype="PCM_16")
        return path.read_bytes()
