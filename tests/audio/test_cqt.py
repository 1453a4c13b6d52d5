import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from nnAudio.features import CQT1992v2

from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt, log_cqt_batch, reflect_pad

RATE = 16000


METHODS = ("1992v2", "2010v2", "multirate")


@pytest.fixture(scope="module")
def extractor():
    return CQTExtractor(CQTConfig())


@pytest.fixture(scope="module")
def nnaudio_1992v2(extractor):
    """nnAudio's own 1992v2 transform with the extractor's settings, centred or not."""
    config = extractor.config

    def make(center: bool) -> CQT1992v2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # top filters past Nyquist, as in CQTExtractor
            return CQT1992v2(
                sr=config.sample_rate,
                hop_length=config.hop_length,
                fmin=config.fmin,
                n_bins=config.n_bins,
                bins_per_octave=config.bins_per_octave,
                output_format="Magnitude",
                verbose=False,
                center=center,
            )

    return make


@pytest.fixture(scope="module", params=METHODS)
def any_extractor(request):
    return CQTExtractor(CQTConfig(method=request.param))


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


def test_batching_matches_one_at_a_time(any_extractor):
    # every frame of the short row, its tail included, is what the short signal gives alone:
    # it is padded by reflecting itself, never by the zeros that fill it up to the long row
    short, long = _tone(300.0, 2.0), _tone(700.0, 5.0)
    batch = log_cqt_batch([short, long], any_extractor)
    alone_short, alone_long = log_cqt(short, any_extractor), log_cqt(long, any_extractor)
    assert [b.shape for b in batch] == [(51, 96), (126, 96)]
    assert batch[0].max() == 0.0  # the short row's max is over its own frames
    np.testing.assert_allclose(batch[0], alone_short, rtol=0, atol=1e-3)
    np.testing.assert_allclose(batch[1], alone_long, rtol=0, atol=1e-3)


def test_batch_of_many_lengths_matches_each_alone(any_extractor):
    rng = np.random.default_rng(0)
    signals = [(0.5 * rng.standard_normal(n)).astype(np.float32) for n in (700, 9000, 24000, 40960)]
    batch = log_cqt_batch(signals, any_extractor)
    for signal, features in zip(signals, batch, strict=True):
        assert features.shape == (any_extractor.config.n_frames(len(signal)), 96)
        np.testing.assert_allclose(features, log_cqt(signal, any_extractor), rtol=0, atol=1e-3)


def test_a_clip_shorter_than_the_kernel_padding_is_transformed(any_extractor):
    # half a second is shorter than half the 32 Hz kernel (8192 samples): reflected repeatedly
    clip = _tone(440.0, 0.5)
    features = log_cqt(clip, any_extractor)
    assert features.shape == (any_extractor.config.n_frames(len(clip)), 96) == (13, 96)
    assert np.isfinite(features).all() and features.max() == 0.0
    batch = log_cqt_batch([clip, _tone(440.0, 3.0)], any_extractor)
    np.testing.assert_allclose(batch[0], features, rtol=0, atol=1e-3)


def test_lone_signal_matches_nnaudio_centred_1992v2(extractor, nnaudio_1992v2):
    # the per-row padding is nnAudio's own centring (reflect by half the kernel) for one signal
    config = extractor.config
    nnaudio = nnaudio_1992v2(center=True)
    signal = _tone(220.0, 3.0) + _tone(1500.0, 3.0)
    magnitude = nnaudio(torch.from_numpy(signal)[None])[0].T  # (T, F)
    expected = 20 * torch.log10(magnitude + config.amin)
    np.testing.assert_allclose(log_cqt(signal, extractor), expected - expected.max(), atol=1e-4)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 40])
@pytest.mark.parametrize(("left", "right"), [(0, 0), (2, 1), (7, 13), (100, 100)])
def test_reflect_pad_is_numpys_reflect(n, left, right):
    signal = np.arange(1, n + 1, dtype=np.float32)
    padded = reflect_pad(torch.from_numpy(signal), left, right).numpy()
    np.testing.assert_array_equal(padded, np.pad(signal, (left, right), mode="reflect"))


def test_reflect_pad_refuses_an_empty_signal():
    with pytest.raises(ValueError, match="empty signal"):
        reflect_pad(torch.zeros(0), 3, 3)


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="cqt method 'fft'"):
        CQTConfig(method="fft")


def test_the_1992v2_transform_equals_nnaudios_on_its_kernels(extractor, nnaudio_1992v2):
    # CQTExtractor runs 1992v2 on nnAudio's kernels with its own forward (audio/cqt.py module doc)
    nnaudio = nnaudio_1992v2(center=False)
    padded = torch.from_numpy(_tone(220.0, 4.0) + _tone(3000.0, 4.0))[None]
    assert torch.equal(extractor.kernel(padded), nnaudio(padded))


def test_an_extractor_made_from_stored_kernels_gives_the_same_features(extractor):
    kernels = extractor.kernels()
    assert set(kernels) == {"real", "imag", "lengths"}
    stored = CQTExtractor(extractor.config, kernels={k: v.clone() for k, v in kernels.items()})
    signal = _tone(440.0, 2.0)
    np.testing.assert_array_equal(log_cqt(signal, stored), log_cqt(signal, extractor))


def test_stored_kernels_are_for_1992v2_only(extractor):
    assert CQTExtractor(CQTConfig(method="multirate")).kernels() is None
    with pytest.raises(ValueError, match="1992v2"):
        CQTExtractor(CQTConfig(method="multirate"), kernels=extractor.kernels())


def test_importing_the_cqt_imports_neither_nnaudio_nor_scipy_signal():
    # nnAudio imports scipy.signal, over a second of a cold `coverhunter identify`
    script = (
        "import json, sys\n"
        "import coverhunter.audio.cqt\n"
        "print(json.dumps([m for m in ('nnAudio', 'scipy.signal') if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []
