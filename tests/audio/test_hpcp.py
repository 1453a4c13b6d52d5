"""HPCP without Essentia (audio/hpcp.py): tones whose answer is known, the frames as Essentia's
`FrameGenerator(startFromZero=True)` cuts them, and, where Essentia is installed, agreement with
`evaluation/qmax.py`'s `hpcp_features` and with Essentia's `SpectralPeaks`.

Column 0 is A: Essentia's HPCP with `referenceFrequency=440` puts 440 Hz at index 0 and index k
k semitones above it, so C is 3, E is 7 and G is 10.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coverhunter.audio.hpcp import _spectral_peaks, hpcp, hpcp_frame_count

SR = 16000
A, C, E, G = 0, 3, 7, 10


def _tone(freq: float, seconds: float, partials: int = 6) -> np.ndarray:
    """A harmonic tone, partial k at 1/k, at `SR`."""
    t = np.arange(round(seconds * SR)) / SR
    return sum(0.2 * np.sin(2 * np.pi * k * freq * t) / k for k in range(1, partials + 1)).astype(
        np.float32
    )


def _chords_with_vibrato_and_noise(seconds: float, seed: int = 0) -> np.ndarray:
    """A new three-note chord every second, 5.5 Hz vibrato, eight partials, white noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * SR)) / SR
    out = 0.01 * rng.standard_normal(len(t))
    for second in range(int(np.ceil(seconds))):
        inside = (t >= second) & (t < second + 1)
        for f0 in rng.choice([146.83, 220.0, 261.63, 329.63, 392.0, 440.0, 523.25], 3, False):
            phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.005 * np.sin(2 * np.pi * 5.5 * t))) / SR
            out[inside] += sum(0.2 * np.sin(k * phase[inside]) / k**1.2 for k in range(1, 9))
    return out.astype(np.float32)


def test_a4_peaks_at_a_column_0_and_every_frame_peaks_at_1():
    profile = hpcp(_tone(440.0, 2.0), SR)
    # 32000 samples: frames every 2048 from 0 until one reaches the end: 1 + ceil(27904 / 2048)
    assert profile.shape == (15, 12) and profile.dtype == np.float32
    assert (profile.argmax(1) == A).all()
    assert np.allclose(profile.max(1), 1.0)
    # a semitone up moves one column
    assert (hpcp(_tone(440.0 * 2 ** (1 / 12), 2.0), SR).argmax(1) == 1).all()


def test_a_c_major_triad_lights_c_e_and_g():
    triad = sum(_tone(f, 2.0) for f in (261.63, 329.63, 392.0))
    strongest = np.argsort(hpcp(triad, SR).mean(0))[-3:]
    assert set(strongest) == {C, E, G}


def test_silence_gives_zeros():
    profile = hpcp(np.zeros(3 * SR, dtype=np.float32), SR)
    assert profile.shape == (hpcp_frame_count(3 * SR, 4096, 2048), 12)
    assert not profile.any()


@pytest.mark.parametrize(
    ("n_samples", "frame_size", "hop_size", "frames"),
    [
        (0, 4096, 2048, 0),
        (100, 4096, 2048, 1),  # shorter than a frame: one, zero-padded
        (4096, 4096, 2048, 1),  # the first frame reaches the end
        (4097, 4096, 2048, 2),
        (10000, 4096, 2048, 4),  # 1 + ceil(5904 / 2048)
        (4095, 2048, 4096, 1),  # hop past the end: no frame starts beyond it
        (10240, 2048, 4096, 3),
    ],
)
def test_frame_count_is_essentias(n_samples, frame_size, hop_size, frames):
    assert hpcp_frame_count(n_samples, frame_size, hop_size) == frames
    audio = np.random.default_rng(0).standard_normal(n_samples).astype(np.float32)
    assert hpcp(audio, SR, frame_size=frame_size, hop_size=hop_size).shape == (frames, 12)


def test_frame_k_covers_samples_from_k_times_the_hop():
    audio = np.zeros(12 * 2048, dtype=np.float32)
    audio[4 * 2048 : 6 * 2048] = _tone(440.0, 4096 / SR)  # inside frames 3, 4 and 5 only
    lit = np.flatnonzero(hpcp(audio, SR).any(1))
    assert list(lit) == [3, 4, 5]


def test_agrees_with_essentias_hpcp():
    pytest.importorskip("essentia")
    from coverhunter.evaluation.qmax import hpcp_features

    audio = _chords_with_vibrato_and_noise(4.0)
    ours, theirs = hpcp(audio, SR), hpcp_features(audio, SR)
    assert ours.shape == theirs.shape
    # measured on this signal and five recordings of the rendered corpus: max |diff| <= 3e-5,
    # 1 - cosine <= 3e-7 in every frame (float32 FFT rounding, Essentia's and torch's)
    assert np.abs(ours - theirs).max() < 1e-3
    cosine = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    assert cosine.min() > 0.9999
    assert (ours.argmax(1) == theirs.argmax(1)).all()


def _random_spectrum(rng: np.random.Generator, size: int, kind: int) -> np.ndarray:
    """Noise (0), plateaus (1), a rise to the last bin (2), a rise to the bin before (3)."""
    x = rng.random(size)
    if kind == 1:
        x = np.round(x * 4) / 4
    elif kind >= 2:
        x[size // 3 :] = np.sort(x[size // 3 :])
        if kind == 3:
            x[-1] = x[-3] * rng.random()
    return x.astype(np.float32)


def test_spectral_peaks_are_essentias_on_plateaus_and_edges():
    pytest.importorskip("essentia")
    from coverhunter.evaluation.qmax import _essentia_standard

    es = _essentia_standard()
    rng = np.random.default_rng(0)
    for trial in range(200):
        size = int(rng.integers(8, 300))
        sample_rate = 2.0 * (size - 1) * float(rng.choice([1.0, 3.90625]))
        bin_hz = sample_rate / 2 / (size - 1)
        low = float(rng.choice([0.0, bin_hz * rng.uniform(0, size / 4)]))
        high = float(rng.choice([sample_rate / 2, bin_hz * rng.uniform(size / 3, size - 1)]))
        max_peaks = int(rng.choice([3, 100]))
        spectrum = _random_spectrum(rng, size, trial % 4)
        theirs = es.SpectralPeaks(
            sampleRate=sample_rate,
            minFrequency=low,
            maxFrequency=high,
            maxPeaks=max_peaks,
            magnitudeThreshold=1e-5,
            orderBy="magnitude",
        )(spectrum)
        # a complex spectrum of these magnitudes (sqrt(x * x) is x in floating point)
        complex_spectrum = torch.from_numpy(spectrum)[None].to(torch.complex64)
        frequencies, magnitudes = _spectral_peaks(complex_spectrum, bin_hz, low, high, max_peaks)
        found = magnitudes[0] > 0
        ours = (frequencies[0][found].numpy(), magnitudes[0][found].numpy())
        assert np.allclose(np.sort(ours[1]), np.sort(theirs[1]), rtol=1e-4), (trial, spectrum)
        if len(theirs[1]) < max_peaks:  # equal magnitudes at the cut may be taken in any order
            assert np.allclose(np.sort(ours[0]), np.sort(theirs[0]), rtol=1e-4), (trial, spectrum)
