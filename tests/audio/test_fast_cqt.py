import numpy as np
import pytest
import torch
from scipy import signal as sps

from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt, log_cqt_batch
from coverhunter.audio.fast_cqt import (
    MultirateCQT,
    decimation_factors,
    halfband_filter,
    kernel_reach_hz,
)

RATE = 16000


@pytest.fixture(scope="module")
def fast():
    return CQTExtractor(CQTConfig(method="multirate"))


@pytest.fixture(scope="module")
def reference():
    return CQTExtractor(CQTConfig(method="1992v2"))


def _tone(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.8 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _music_like(seconds: float, seed: int) -> np.ndarray:
    """Tones across the range (low bass to past 7 kHz), each swelling and fading, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    x = 0.01 * rng.standard_normal(len(t))
    for freq in (41.2, 55.0, 110.0, 220.0, 440.0, 660.0, 1320.0, 2500.0, 5000.0, 7100.0):
        envelope = 1.0 + np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t + rng.uniform(0, 6))
        x += rng.uniform(0.1, 1.0) * envelope * np.sin(2 * np.pi * freq * t)
    return (x / np.abs(x).max()).astype(np.float32)


@pytest.mark.parametrize("attenuation_db", [60.0, 100.0])
def test_halfband_filter_meets_its_band_edges(attenuation_db):
    taps = halfband_filter(attenuation_db)
    freqs, response = sps.freqz(taps, worN=8192, fs=1.0)
    tolerance = 10 ** (-attenuation_db / 20)
    assert np.abs(np.abs(response[freqs <= 1 / 8]) - 1.0).max() <= tolerance
    assert np.abs(response[freqs >= 3 / 8]).max() <= tolerance
    # half-band: the centre tap is 1/2 and every other tap beside it is zero
    centre = len(taps) // 2
    assert taps[centre] == pytest.approx(0.5, abs=tolerance)
    assert np.all(taps[centre + 2 :: 2] == 0.0)


def test_kernel_reach_of_a_bin_centred_exponential_is_its_frequency():
    # 16 samples at 16 Hz of exp(2 pi i 4 t): one DFT bin, 4 Hz, holds all of it
    kernel = np.exp(2j * np.pi * 4 * np.arange(16) / 16)[None, :]
    assert kernel_reach_hz(kernel, 16.0, 100.0).tolist() == [4.0]


def test_decimation_factors_worked_by_hand():
    # sr 16 kHz, hop 640 = 2^7 * 5. A factor D needs reach <= 16000 / (4 D):
    # 3000 Hz -> 1 (D=2 allows 2000); 900 Hz -> 4 (D=4 allows 1000, D=8 only 500);
    # 10 Hz -> 128 (the largest power of two dividing 640); 5000 Hz (> sr/4) -> 1.
    reach = np.array([3000.0, 900.0, 10.0, 5000.0])
    assert decimation_factors(reach, 16000, 640).tolist() == [1, 4, 128, 1]


@pytest.mark.parametrize("bin_index", [0, 12, 45, 60, 90])
def test_pure_tone_lands_in_its_bin(fast, bin_index):
    config = fast.config
    freq = config.fmin * 2 ** (bin_index / config.bins_per_octave)
    features = log_cqt(_tone(freq, 3.0), fast)
    assert features.shape[1] == 96
    assert int(np.argmax(features[10:-10].mean(axis=0))) == bin_index


@pytest.mark.parametrize("n_samples", [RATE, 2 * RATE + 639, 2 * RATE + 640, 37 * RATE])
def test_frame_count_is_centred(fast, n_samples):
    features = log_cqt(_tone(440.0, n_samples / RATE), fast)
    assert features.shape == (n_samples // 640 + 1, 96)


def test_agrees_with_nnaudio_1992v2_on_music_like_audio(fast, reference):
    audio = _music_like(6.0, seed=0)
    ours, theirs = log_cqt(audio, fast), log_cqt(audio, reference)
    assert ours.shape == theirs.shape == (151, 96)
    audible = theirs > -60.0  # below that the 1e-9 floor and float noise dominate
    assert audible.mean() > 0.5  # the comparison covers most of the plane
    assert np.abs(ours - theirs)[audible].max() < 0.05  # dB; the brief's bound is 1 dB
    np.testing.assert_array_equal(ours.argmax(axis=1), theirs.argmax(axis=1))


def test_batch_rows_match_single_signals(fast):
    short, long = _music_like(2.0, seed=1), _music_like(5.0, seed=2)
    batch = log_cqt_batch([short, long], fast)
    alone = [log_cqt(short, fast), log_cqt(long, fast)]
    assert [b.shape[0] for b in batch] == [51, 126]
    np.testing.assert_allclose(batch[1], alone[1], atol=1e-3)
    # every frame of the short row, its tail included: rows are padded one by one
    np.testing.assert_allclose(batch[0], alone[0], atol=1e-3)


def test_uncentred_on_padded_audio_equals_centred():
    centred, uncentred = MultirateCQT(), MultirateCQT(center=False)
    audio = torch.from_numpy(np.stack([_music_like(1.5, seed=3), _music_like(1.5, seed=4)]))
    padded = torch.nn.functional.pad(audio[:, None], (centred.pad, centred.pad), mode="reflect")
    torch.testing.assert_close(uncentred(padded[:, 0]), centred(audio), rtol=0, atol=0)


def test_groups_tile_the_bins_and_lower_attenuation_decimates_further():
    strict, loose = MultirateCQT(attenuation_db=120.0), MultirateCQT(attenuation_db=60.0)
    for module in (strict, loose):
        bounds = [(g.lo, g.hi) for g in module.groups]
        assert bounds[0][0] == 0 and bounds[-1][1] == 96
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
        assert all(hi - lo <= 12 for lo, hi in bounds)  # at most one octave per group
    assert max(g.factor for g in loose.groups) > max(g.factor for g in strict.groups)


def test_only_magnitude_output_is_offered():
    with pytest.raises(ValueError, match="'Complex'"):
        MultirateCQT(output_format="Complex")


def test_too_short_audio_is_named():
    with pytest.raises(ValueError, match="audio of 8000 samples is too short"):
        MultirateCQT()(torch.zeros(1, 8000))
    with pytest.raises(ValueError, match="shorter than one kernel window"):
        MultirateCQT(center=False)(torch.zeros(1, 8000))


def test_magnitude_shape_follows_nnaudio():
    module = MultirateCQT()
    out = module(torch.zeros(3, 2 * RATE))
    assert out.shape == (3, 96, 2 * RATE // 640 + 1)
    assert torch.all(out == 0.0)
