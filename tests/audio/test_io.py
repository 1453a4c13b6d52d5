import os
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from coverhunter.audio.io import AudioDecodeError, decode_audio, load_audio, peak_normalise


def _tone(seconds: float, rate: int, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return mono if channels == 1 else np.stack([mono] * channels, axis=1)


@pytest.mark.parametrize(
    "ext,fmt", [(".wav", "WAV"), (".flac", "FLAC"), (".ogg", "OGG"), (".mp3", "MP3")]
)
def test_soundfile_formats_decode_to_16k_mono(tmp_path, ext, fmt):
    path = tmp_path / f"tone{ext}"
    sf.write(path, _tone(2.0, 22050, channels=2), 22050, format=fmt)
    audio = load_audio(path, 16000)
    assert audio.ndim == 1 and audio.dtype == np.float32
    assert abs(len(audio) - 32000) < 1200  # mp3 adds encoder padding


def test_resampling_keeps_the_pitch(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, _tone(1.0, 44100, freq=1000.0), 44100)
    audio = load_audio(path, 16000)
    spectrum = np.abs(np.fft.rfft(audio))
    assert np.argmax(spectrum) * 16000 / len(audio) == pytest.approx(1000.0, abs=2.0)


def test_multichannel_is_downmixed_and_reported(tmp_path):
    path = tmp_path / "stereo.wav"
    sf.write(path, _tone(1.0, 16000, channels=2), 16000)
    decoded = decode_audio(path, 16000)
    assert decoded.channels == 2 and decoded.samples.ndim == 1


def test_truncation_reads_only_the_start(tmp_path):
    path = tmp_path / "long.flac"
    sf.write(path, _tone(5.0, 16000), 16000)
    decoded = decode_audio(path, 16000, max_duration_s=2.0)
    assert len(decoded.samples) == 32000 and decoded.truncated and decoded.duration_s == 5.0


@pytest.mark.parametrize(
    "name,content,reason",
    [
        ("missing.wav", None, "file not found"),
        ("empty.flac", b"", "zero-length file"),
        ("corrupt.wav", b"RIFF\x00\x00junk" * 50, "unreadable or corrupt audio"),
        ("notes.txt", b"hello", "unsupported audio format .txt"),
    ],
)
def test_bad_files_raise_with_path_and_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioDecodeError) as error:
        load_audio(path, 16000)
    assert error.value.path == str(path) and reason in error.value.reason
    assert str(path) in str(error.value)


def test_m4a_without_ffmpeg_names_the_file_and_the_missing_tool(tmp_path, monkeypatch):
    path = tmp_path / "song.m4a"
    path.write_bytes(b"\x00" * 64)
    monkeypatch.setenv("PATH", str(tmp_path))  # an environment without ffmpeg
    with pytest.raises(AudioDecodeError, match="needs ffmpeg, which is not installed") as error:
        load_audio(path, 16000)
    assert error.value.path == str(path)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed here")
def test_m4a_decodes_through_ffmpeg(tmp_path):
    wav, m4a = tmp_path / "tone.wav", tmp_path / "tone.m4a"
    sf.write(wav, _tone(2.0, 44100, channels=2), 44100)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(wav), str(m4a)], check=True, env={**os.environ}
    )
    audio = load_audio(m4a, 16000)
    assert abs(len(audio) - 32000) < 2000
    assert np.max(np.abs(audio)) > 0.3


def test_peak_normalise():
    assert np.max(np.abs(peak_normalise(np.array([0.1, -0.25], np.float32)))) == 1.0
    silence = np.zeros(4, np.float32)
    assert np.array_equal(peak_normalise(silence), silence)


@pytest.mark.parametrize(
    "orig,new", [(44100, 16000), (48000, 16000), (8000, 16000), (16000, 22050)]
)
def test_resample_matches_torchaudio(orig, new):
    # the phase-trimmed kernel drops only taps outside the window (~1e-23), so the output is
    # torchaudio's up to float32 rounding, with the same length ceil(S * new / orig)
    import torch
    import torchaudio.functional as AF

    from coverhunter.audio.io import resample

    signal = np.random.default_rng(0).standard_normal(orig + 7).astype(np.float32)
    expected = AF.resample(torch.from_numpy(signal), orig, new).numpy()
    out = resample(signal, orig, new)
    assert out.dtype == np.float32 and out.shape == expected.shape
    np.testing.assert_allclose(out, expected, atol=2e-6)


def test_downmix_is_the_channel_mean(tmp_path):
    path = tmp_path / "three.wav"
    data = np.array([[0.5, -0.25, 0.125], [0.0, 0.75, -0.5]], dtype=np.float32)
    sf.write(path, np.tile(data, (4000, 1)), 16000, subtype="FLOAT")
    decoded = decode_audio(path, 16000)
    np.testing.assert_array_equal(decoded.samples[:2], np.float32([0.125, np.float32(0.25) / 3]))
