"""The finish every generated recording gets: noise at an SNR, a fade, a loudness, FLAC."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from coverhunter.corpora.recording import coloured_noise, encode_flac, finish_recording, mix_noise


def test_noise_is_mixed_at_the_requested_snr_and_pink_has_equal_power_per_octave():
    rng = np.random.default_rng(0)
    n = 1 << 16
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(n) / 16000)).astype(np.float32)  # power 1/8
    noise = mix_noise(tone, 10.0, "white", rng) - tone
    assert np.mean(noise.astype(np.float64) ** 2) == pytest.approx(0.125 / 10, rel=0.02)

    freqs = np.fft.rfftfreq(n, 1 / 16000)
    for colour, expected in (("white", 0.1), ("pink", 1.0)):
        power = np.abs(np.fft.rfft(coloured_noise(n, colour, rng))) ** 2
        low, high = power[(freqs >= 100) & (freqs < 200)], power[(freqs >= 1000) & (freqs < 2000)]
        assert low.sum() / high.sum() == pytest.approx(expected, rel=0.15), colour


def test_a_finished_recording_fades_out_and_peaks_at_its_loudness():
    rate, n = 16000, 16000 * 4
    tone = (0.9 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)).astype(np.float32)
    out = finish_recording(tone, rate, 1.0, 60.0, "pink", -6.0, np.random.default_rng(0))
    assert out.dtype == np.float32 and out.shape == tone.shape
    assert np.max(np.abs(out)) == pytest.approx(10 ** (-6.0 / 20), rel=1e-6)
    head, tail = np.abs(out[: rate // 10]).max(), np.abs(out[-rate // 100 :]).max()
    assert tail < 0.05 * head  # the last second fades to (almost) nothing; the noise is 60 dB down
    short = finish_recording(tone[:400], rate, 1.0, 60.0, "white", -6.0, np.random.default_rng(0))
    assert np.abs(short[:300]).max() > 0.4  # a fade never takes more than the last quarter


def test_flac_bytes_hold_16_bit_mono_at_the_rate():
    audio = np.linspace(-0.5, 0.5, 1600, dtype=np.float32)
    decoded, rate = sf.read(io.BytesIO(encode_flac(audio, 16000)), dtype="float32")
    info = sf.info(io.BytesIO(encode_flac(audio, 16000)))
    assert rate == 16000 and info.subtype == "PCM_16" and info.channels == 1
    assert np.abs(decoded - audio).max() <= 1 / 2**15
