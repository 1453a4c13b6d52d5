import logging

import numpy as np
import pytest
import soundfile as sf

from coverhunter.data.noise import coloured_noise, load_noise_bank

SAMPLE_RATE = 8000
HOP = 800  # frames of the stand-in front end below: 10 per second at 8 kHz


def framed_log_energy(audio: np.ndarray) -> np.ndarray:
    """Stand-in for the log-CQT: log energy of each 800-sample frame, as a (T, 1) array."""
    n_frames = len(audio) // HOP
    frames = audio[: n_frames * HOP].reshape(n_frames, HOP)
    return 10 * np.log10((frames**2).mean(axis=1, keepdims=True) + 1e-12)


def write_tone(path, seconds, amplitude):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    sf.write(path, (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32), SAMPLE_RATE)


def test_musan_layout_is_read_recursively_and_bad_files_are_skipped(tmp_path, caplog):
    write_tone(tmp_path / "noise" / "free-sound" / "a.wav", seconds=1.0, amplitude=1.0)
    write_tone(tmp_path / "noise" / "sound-bible" / "b.wav", seconds=2.0, amplitude=0.1)
    (tmp_path / "noise" / "sound-bible" / "broken.wav").write_bytes(b"not a wav file at all")
    (tmp_path / "noise" / "README").write_text("MUSAN notes, not audio")
    with caplog.at_level(logging.WARNING):
        bank = load_noise_bank(tmp_path, framed_log_energy, SAMPLE_RATE, np.random.default_rng(0))
    assert [item.shape for item in bank] == [(10, 1), (20, 1)]  # sorted: free-sound, sound-bible
    # A sine of amplitude A has power A^2 / 2: -3.0 dB at A = 1, -23.0 dB at A = 0.1.
    assert bank[0].mean() == pytest.approx(-3.01, abs=0.05)
    assert bank[1].mean() == pytest.approx(-23.01, abs=0.05)
    assert "broken.wav" in caplog.text


def test_without_a_folder_coloured_noise_is_generated():
    bank = load_noise_bank(
        None, framed_log_energy, SAMPLE_RATE, np.random.default_rng(0), n_generated=5, duration_s=3
    )
    assert len(bank) == 5
    assert all(item.shape == (30, 1) and item.dtype == np.float32 for item in bank)


def test_a_folder_without_usable_audio_is_an_error_naming_it(tmp_path):
    # the run asked for this noise: training with generated noise instead would be another run
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(ValueError, match=f"noise_dir {tmp_path} holds no usable audio.*empty.wav"):
        load_noise_bank(
            tmp_path, framed_log_energy, SAMPLE_RATE, np.random.default_rng(0), n_generated=3
        )
    (tmp_path / "empty.wav").unlink()
    with pytest.raises(ValueError, match="no audio files"):
        load_noise_bank(tmp_path, framed_log_energy, SAMPLE_RATE, np.random.default_rng(0))


def test_a_missing_folder_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="nowhere"):
        load_noise_bank(
            tmp_path / "nowhere", framed_log_energy, SAMPLE_RATE, np.random.default_rng(0)
        )


def band_power(samples, low, high):
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples))
    return spectrum[(freqs >= low) & (freqs < high)].mean()


@pytest.mark.parametrize(("exponent", "expected_db"), [(0.0, 0.0), (1.0, -10.0), (2.0, -20.0)])
def test_noise_colour_sets_the_slope_per_decade(exponent, expected_db):
    # Power density 1/f^exponent: a band ten times higher holds 10*exponent dB less per bin.
    samples = coloured_noise(2**16, exponent, np.random.default_rng(1))
    ratio_db = 10 * np.log10(band_power(samples, 0.04, 0.05) / band_power(samples, 0.004, 0.005))
    assert ratio_db == pytest.approx(expected_db, abs=1.5)
    assert np.abs(samples).max() == pytest.approx(1.0)


def test_generated_noise_follows_the_rng():
    first = coloured_noise(100, 1.0, np.random.default_rng(3))
    assert np.array_equal(first, coloured_noise(100, 1.0, np.random.default_rng(3)))
    assert not np.array_equal(first, coloured_noise(100, 1.0, np.random.default_rng(4)))
