"""Chroma from the log-CQT (audio/chroma.py): a real tone through the project's CQT, and the
settings each on a hand-built spectrum whose answer is worked out here."""

import numpy as np
import pytest

from coverhunter.audio.chroma import averaged_frames, cqt_chroma
from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt

FLOOR_DB = -120.0


def _harmonic_tone(f0: float, seconds: float, sample_rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 6)).astype(np.float32)


def _pitch_class(freq: float, fmin: float = 32.0) -> int:
    return round(12 * np.log2(freq / fmin)) % 12


def _spectrum(levels: dict[int, float], n_bins: int = 96) -> np.ndarray:
    """One frame of log-CQT: `FLOOR_DB` everywhere but the bins given (bin -> dB)."""
    frame = np.full((1, n_bins), FLOOR_DB, dtype=np.float32)
    for b, db in levels.items():
        frame[0, b] = db
    return frame


def test_a_harmonic_tone_through_the_cqt_peaks_at_its_pitch_class():
    # 220 Hz with four overtones (440, 660, 880, 1100 Hz): 660 and 1100 Hz are other classes
    cqt = log_cqt(_harmonic_tone(220.0, 2.0), CQTExtractor(CQTConfig()))
    for settings in ({}, {"peaks": True}, {"magnitude": "power"}, {"harmonics": 4}):
        chroma = cqt_chroma(cqt, octaves=(2, 7), **settings)
        assert chroma.shape == (cqt.shape[0], 12) and chroma.dtype == np.float32
        assert np.bincount(chroma.argmax(1)).argmax() == _pitch_class(220.0), settings


def test_octaves_fold_only_the_bins_asked_for():
    # bin 5 is in octave 0 (the bass), bin 24 + 7 in octave 2
    frame = _spectrum({5: 0.0, 31: -6.0})
    assert cqt_chroma(frame, octaves=(0, 8))[0].argmax() == 5
    kept = cqt_chroma(frame, octaves=(2, 7))[0]
    assert kept.argmax() == 7 and kept[5] == pytest.approx(5 * 10 ** (FLOOR_DB / 20))


def test_power_and_log_magnitudes():
    frame = _spectrum({30: 0.0, 31: -20.0})
    amplitude = cqt_chroma(frame, magnitude="amplitude")[0]
    power = cqt_chroma(frame, magnitude="power")[0]
    log = cqt_chroma(frame, magnitude="log", floor_db=-40.0)[0]
    assert amplitude[7] / amplitude[6] == pytest.approx(0.1, rel=1e-3)
    assert power[7] / power[6] == pytest.approx(0.01, rel=1e-3)
    assert log[6] == pytest.approx(40.0) and log[7] == pytest.approx(20.0)


def test_peaks_keep_the_partials_and_drop_their_leakage():
    # a partial at bin 40 leaking into 39 and 41, another at 50
    frame = _spectrum({39: -10.0, 40: 0.0, 41: -10.0, 50: -3.0})
    chroma = cqt_chroma(frame, octaves=(3, 5), peaks=True)[0]
    assert np.count_nonzero(chroma) == 2
    assert chroma[40 % 12] == pytest.approx(1.0) and chroma[50 % 12] == pytest.approx(10**-0.15)


def test_harmonic_weighting_credits_the_fundamentals_a_partial_may_belong_to():
    # one partial at pitch class 7; harmonic 2 is an octave (class 7 again, weight 0.6), harmonic
    # 3 an octave and a fifth (19 semitones: the fundamental is class 0, weight 0.36)
    frame = _spectrum({24 + 7: 0.0})
    chroma = cqt_chroma(frame, octaves=(2, 7), harmonics=3, harmonic_decay=0.6, peaks=True)[0]
    assert chroma[7] == pytest.approx(1.6) and chroma[0] == pytest.approx(0.36)
    assert np.count_nonzero(chroma) == 2


def test_whitening_removes_a_spectral_slope():
    # the same two partials on a flat floor and on a tilted one: whitened, both frames agree
    # away from the edges
    flat = _spectrum({40: -10.0, 47: -10.0})
    flat[0] = np.maximum(flat[0], -60.0)
    tilted = flat + np.linspace(0.0, -30.0, 96, dtype=np.float32)[None, :]
    a = cqt_chroma(flat, octaves=(3, 5), whiten_bins=13, frame_max=True)[0]
    b = cqt_chroma(tilted, octaves=(3, 5), whiten_bins=13, frame_max=True)[0]
    np.testing.assert_allclose(a, b, rtol=1e-4)
    assert a.max() == pytest.approx(1.0)


def test_averaged_frames():
    chroma = np.arange(7 * 12, dtype=np.float32).reshape(7, 12)
    out = averaged_frames(chroma, 3)
    assert out.shape == (2, 12)
    np.testing.assert_allclose(out[1], chroma[3:6].mean(0))


def test_bad_settings_are_named():
    frame = _spectrum({30: 0.0})
    with pytest.raises(ValueError, match="octaves"):
        cqt_chroma(frame, octaves=(6, 9))
    with pytest.raises(ValueError, match="magnitude"):
        cqt_chroma(frame, magnitude="loud")
    with pytest.raises(ValueError, match="harmonics"):
        cqt_chroma(frame, harmonics=0)
    with pytest.raises(ValueError, match="frames"):
        averaged_frames(np.zeros((4, 12)), 0)
