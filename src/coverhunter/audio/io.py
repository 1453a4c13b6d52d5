"""Decoding audio files to 16 kHz mono float32 arrays.

soundfile reads wav, flac, mp3 and ogg (vorbis/opus in ogg). Other containers (m4a, webm, opus, ...)
go through the ffmpeg command line when it is installed; without it they fail with an error that
names the file and says what is missing. Every failure is an `AudioDecodeError(path, reason)` so
ingest can set the recording aside and carry on with the rest.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

# Containers libsndfile decodes itself; anything else is handed to ffmpeg.
SOUNDFILE_EXTENSIONS = frozenset({".wav", ".flac", ".mp3", ".ogg", ".aiff", ".aif"})
FFMPEG_EXTENSIONS = frozenset({".m4a", ".mp4", ".aac", ".opus", ".webm", ".wma", ".mkv"})
AUDIO_EXTENSIONS = SOUNDFILE_EXTENSIONS | FFMPEG_EXTENSIONS


class AudioDecodeError(Exception):
    """A recording that cannot be used, with the file and the reason."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class DecodedAudio:
    """A decoded recording before resampling, as the file holds it."""

    samples: np.ndarray  # (S,) float32 mono, downmixed
    sample_rate: int  # the file's own rate
    channels: int  # the file's channel count before downmixing
    duration_s: float  # full duration of the file (not of `samples` when truncated)
    truncated: bool  # True when only the first `max_duration_s` seconds were read


def _read_soundfile(path: Path, max_duration_s: float | None) -> DecodedAudio:
    try:
        info = sf.info(str(path))
        frames = -1
        if max_duration_s is not None:
            frames = min(info.frames, int(round(max_duration_s * info.samplerate)))
        data, rate = sf.read(str(path), frames=frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise AudioDecodeError(path, f"unreadable or corrupt audio ({error})") from error
    duration_s = info.frames / info.samplerate if info.samplerate else 0.0
    return DecodedAudio(
        samples=data.mean(axis=1).astype(np.float32),
        sample_rate=int(rate),
        channels=int(data.shape[1]),
        duration_s=float(duration_s),
        truncated=data.shape[0] < info.frames,
    )


def _read_ffmpeg(path: Path, sample_rate: int, max_duration_s: float | None) -> DecodedAudio:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioDecodeError(
            path,
            f"{path.suffix} audio needs ffmpeg, which is not installed (apt-get install ffmpeg)",
        )
    # ffmpeg resamples and downmixes itself; it reports the full duration on stderr.
    command = [ffmpeg, "-v", "error", "-nostdin", "-i", str(path)]
    if max_duration_s is not None:
        command += ["-t", f"{max_duration_s:.3f}"]
    command += ["-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-"]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        reason = message[-1] if message else f"exit code {result.returncode}"
        raise AudioDecodeError(path, f"ffmpeg could not decode it ({reason})")
    samples = np.frombuffer(result.stdout, dtype=np.float32).copy()
    duration_s = samples.shape[0] / sample_rate
    truncated = max_duration_s is not None and duration_s >= max_duration_s - 1.0 / sample_rate
    return DecodedAudio(samples, sample_rate, 1, duration_s, truncated)


def decode_audio(
    path: str | Path, sample_rate: int, max_duration_s: float | None = None
) -> DecodedAudio:
    """Decode `path` to mono float32 (not yet resampled when soundfile reads it)."""
    path = Path(path)
    if not path.exists():
        raise AudioDecodeError(path, "file not found")
    if not path.is_file():
        raise AudioDecodeError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise AudioDecodeError(path, "zero-length file")
    suffix = path.suffix.lower()
    if suffix in SOUNDFILE_EXTENSIONS:
        return _read_soundfile(path, max_duration_s)
    if suffix in FFMPEG_EXTENSIONS:
        return _read_ffmpeg(path, sample_rate, max_duration_s)
    raise AudioDecodeError(path, f"unsupported audio format {suffix or '(no extension)'}")


def resample(samples: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """Band-limited resampling of a mono signal `(S,)`."""
    assert samples.ndim == 1, samples.shape
    if orig_rate == new_rate:
        return samples.astype(np.float32, copy=False)
    tensor = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    return AF.resample(tensor, orig_rate, new_rate).numpy()


def load_audio(
    path: str | Path, sample_rate: int, max_duration_s: float | None = None
) -> np.ndarray:
    """Decode `path` to `(S,)` float32 mono at `sample_rate`, at most `max_duration_s` long."""
    decoded = decode_audio(path, sample_rate, max_duration_s)
    return resample(decoded.samples, decoded.sample_rate, sample_rate)


def peak_normalise(samples: np.ndarray, eps: float = 1e-9) -> np.ndarray:
    """Scale `(S,)` so its largest absolute sample is 1 (silence is left as it is)."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return samples if peak < eps else (samples / peak).astype(np.float32)
