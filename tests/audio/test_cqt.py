import numpy as np
import pytest

from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt, log_cqt_batch

RATE = 16000


@pytest.fixture(scope="module")
def extractor():
    return CQTExtractor(CQTConfig())


def _tone(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.8 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("bin_index", [0, 12, 45, 60, 90])
def test_pure_tone_lands_in_its_bin(extractor, bin_index):
    config = extractor.config
    freq = config.fmin * 2 ** (bin_index / config.bins_per_octave)
    features = log_cqt(_tone(freq, 3.0), extractor)
    assert features.shape[1] == 96
    assert int(np.argmax(features[10:-10].mean(axis=0))) == bin_index


@pytest.mark.parametrize("seconds", [1.0, 10.0, 37.0])
def test_frame_rate_is_25_per_second(extractor, seconds):
    features = log_cqt(_tone(440.0, seconds), extractor)
    assert extractor.config.frame_rate == 25.0
    assert features.shape[0] == int(seconds * 25) + 1  # centred frames: one per hop, plus the last


def test_log_magnitude_is_relative_to_the_track_max(extractor):
    quiet = log_cqt(0.01 * _tone(440.0, 2.0), extractor)
    loud = log_cqt(_tone(440.0, 2.0), extractor)
    assert quiet.max() == 0.0 and loud.max() == 0.0
    audible = loud > -60.0  # far below that, the 1e-9 floor differs between the two levels
    np.testing.assert_allclose(quiet[audible], loud[audible], atol=0.5)


def test_batching_matches_one_at_a_time(extractor):
    short, long = _tone(300.0, 2.0), _tone(700.0, 5.0)
    batch = log_cqt_batch([short, long], extractor)
    assert [b.shape[0] for b in batch] == [51, 126]
    alone_long, alone_short = log_cqt(long, extractor), log_cqt(short, extractor)
    audible = alone_long > -60.0  # float noise differs far down; compare what carries signal
    np.testing.assert_allclose(batch[1][audible], alone_long[audible], atol=1e-2)
    # the short row's max is taken over its own frames, not the padding; frames more than
    # half a kernel from its end do not see the padding at all
    assert batch[0].max() == 0.0
    audible = alone_short[:40] > -60.0
    np.testing.assert_allclose(batch[0][:40][audible], alone_short[:40][audible], atol=1e-2)


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="cqt method 'fft'"):
        CQTConfig(method="fft")
