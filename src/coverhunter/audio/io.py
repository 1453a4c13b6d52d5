"""Decoding audio files to 16 kHz mono float32 arrays.

soundfile reads wav, flac, mp3 and ogg (vorbis/opus in ogg). Other containers (m4a, webm, opus, ...)
go through the ffmpeg command line when it is installed; without it they fail with an error that
names the file and says what is missing. Every failure is an `AudioDecodeError(path, reason)` so
ingest can set the recording aside and carry on with the rest. Before libsndfile opens a file, its
first bytes must hold a header of a format it reads (`_sniff`): a text file named `.mp3` is
refused as text, not with libsndfile's "File does not exist or is not a regular file" and
libmpg123's "Illegal Audio-MPEG-Header" lines on stderr.

Speed (a 4-minute 44.1 kHz stereo query, see `benchmarks/query_latency.py`): libsndfile's own
decoding is the floor (~150 ms CPU for FLAC or mp3); the downmix adds channels one at a time
(numpy's `mean(axis=1)` over a 2-wide axis took ~120 ms), and `resample` applies torchaudio's
windowed-sinc kernel trimmed to each phase's support, in cache-sized blocks (~23 ms instead of
~100 ms for `torchaudio.functional.resample` on an idle machine, same output to 1e-6).
"""

from __future__ import annotations

import functools
import math
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

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


# Bytes read to find a header: an mp3 may start with junk before its first frame.
_SNIFF_BYTES = 1 << 16
# Container signatures libsndfile reads (wav: RIFF/RIFX/RF64/BW64/Sony Wave64, aiff, flac, ogg;
# ID3 tags open mp3 and some flac files).
_MAGIC = (b"RIFF", b"RIFX", b"RF64", b"BW64", b"riff", b"FORM", b"fLaC", b"OggS", b"ID3")


def _mpeg_frame_header(head: bytes) -> bool:
    """A plausible MPEG audio frame header (sync, version, layer, bitrate, rate) in `head`."""
    start = head.find(b"\xff")
    while 0 <= start < len(head) - 2:
        b1, b2 = head[start + 1], head[start + 2]
        if (
            b1 & 0xE0 == 0xE0  # 11 sync bits
            and (b1 >> 3) & 3 != 1  # version: not reserved
            and (b1 >> 1) & 3 != 0  # layer: not reserved
            and b2 >> 4 != 15  # bitrate: not "bad"
            and (b2 >> 2) & 3 != 3  # sample rate: not reserved
        ):
            return True
        start = head.find(b"\xff", start + 1)
    return False


def _sniff(path: Path) -> None:
    """AudioDecodeError unless the file starts like a format libsndfile decodes."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError as error:
        raise AudioDecodeError(path, f"cannot be read ({error.strerror or error})") from error
    if head.startswith(_MAGIC) or _mpeg_frame_header(head):
        return
    sample = head[:512]
    printable = sum(32 <= b < 127 or b in b"\t\r\n" for b in sample)
    if sample and printable >= 0.95 * len(sample):
        start = sample[:40].decode("ascii", errors="replace").splitlines()[0]
        raise AudioDecodeError(
            path, f"the file holds text, not {path.suffix.lstrip('.')} audio (it starts {start!r})"
        )
    raise AudioDecodeError(
        path,
        f"not {path.suffix.lstrip('.')} audio: no wav, aiff, flac, ogg or mp3 header in its "
        f"first {len(head)} bytes",
    )


def _read_soundfile(path: Path, max_duration_s: float | None) -> DecodedAudio:
    _sniff(path)
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
        samples=_downmix(data),
        sample_rate=int(rate),
        channels=int(data.shape[1]),
        duration_s=float(duration_s),
        truncated=data.shape[0] < info.frames,
    )


def _downmix(data: np.ndarray) -> np.ndarray:
    """`(S, C)` -> `(S,)` float32 channel mean.

    Channels are added one at a time: the same sums as `data.mean(axis=1)` (numpy adds fewer
    than 8 values in order), ten times faster than its reduction over a short inner axis.
    """
    assert data.ndim == 2, data.shape
    out = data[:, 0].astype(np.float32, copy=True)
    for channel in range(1, data.shape[1]):
        out += data[:, channel]
    if data.shape[1] > 1:
        out /= np.float32(data.shape[1])
    return out


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


@dataclass(frozen=True)
class _PhaseGroup:
    """Output phases `[first, stop)` of a frame, whose taps start at `tap`: `weights (P, L)`."""

    first: int
    stop: int
    tap: int
    weights: torch.Tensor  # (P, L) float32


@dataclass(frozen=True)
class _ResamplePlan:
    """A frame of `stride` input samples yields `phases` outputs, read from `taps` samples."""

    stride: int
    phases: int
    left_pad: int
    taps: int
    groups: tuple[_PhaseGroup, ...]
    out_per_in: tuple[int, int]  # output length = ceil(len * num / den)


# A frame holds at least this many output phases, so integer decimation (48 -> 16 kHz) still
# multiplies small matrices rather than running one long strided dot product.
_MIN_PHASES = 16
# Taps a phase group may span beyond its longest phase: fewer, wider matrix products.
_GROUP_SLACK = 32
# Input samples per block: its frames stay in cache while every phase group reads them.
_BLOCK_SAMPLES = 1 << 21


@functools.lru_cache(maxsize=32)
def _resample_plan(
    orig_rate: int, new_rate: int, lowpass_filter_width: int = 6, rolloff: float = 0.99
) -> _ResamplePlan:
    """`torchaudio.functional.resample`'s kernel (sinc, Hann window), split by phase support.

    torchaudio correlates every output phase with `2 * width + orig` taps, of which only
    ~`2 * lowpass_filter_width * orig / new` are inside the window; the rest are ~1e-23.
    The kernel is computed as torchaudio does (float32), then each run of adjacent phases keeps
    only the taps its window covers.
    """
    gcd = math.gcd(orig_rate, new_rate)
    orig, new = orig_rate // gcd, new_rate // gcd
    base = min(orig, new) * rolloff
    width = math.ceil(lowpass_filter_width * orig / base)
    idx = np.arange(-width, width + orig, dtype=np.float32) / np.float32(orig)
    t = np.arange(0, -new, -1, dtype=np.float32)[:, None] / np.float32(new) + idx  # (new, K)
    t = t * np.float32(base)
    inside = np.abs(t) < lowpass_filter_width
    t = np.clip(t, -lowpass_filter_width, lowpass_filter_width)
    window = np.cos(t * np.float32(math.pi / lowpass_filter_width / 2)) ** 2
    t = t * np.float32(math.pi)
    with np.errstate(invalid="ignore", divide="ignore"):
        kernel = np.where(t == 0, np.float32(1.0), np.sin(t) / t)
    kernel = (kernel * window * np.float32(base / orig)).astype(np.float32)
    # A super-frame of `repeat` frames: phase j + new * r is phase j shifted by r * orig taps.
    # Its stride must cover a group's taps, or the strided view is no BLAS matrix (numpy then
    # multiplies element by element, 50x slower).
    longest = int(inside.sum(axis=1).max())
    repeat = max(-(-_MIN_PHASES // new), -(-(longest + 1 + _GROUP_SLACK) // orig))
    taps = kernel.shape[1] + (repeat - 1) * orig
    full = np.zeros((repeat * new, taps), dtype=np.float32)
    support = np.zeros((repeat * new, taps), dtype=bool)
    for r in range(repeat):
        full[r * new : (r + 1) * new, r * orig : r * orig + kernel.shape[1]] = kernel
        support[r * new : (r + 1) * new, r * orig : r * orig + kernel.shape[1]] = inside
    first = support.argmax(axis=1)
    last = taps - support[:, ::-1].argmax(axis=1)
    longest = int((last - first).max())
    groups, lo = [], 0
    while lo < full.shape[0]:
        hi = lo + 1
        while hi < full.shape[0] and last[hi] - first[lo] <= longest + _GROUP_SLACK:
            hi += 1
        tap, stop = int(first[lo:hi].min()), int(last[lo:hi].max())
        weights = torch.from_numpy(np.ascontiguousarray(full[lo:hi, tap:stop]))
        groups.append(_PhaseGroup(lo, hi, tap, weights))
        lo = hi
    return _ResamplePlan(repeat * orig, repeat * new, width, taps, tuple(groups), (new, orig))


def resample(samples: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """Band-limited resampling of a mono signal `(S,)` -> `(ceil(S * new / orig),)` float32.

    The output of `torchaudio.functional.resample` (windowed sinc, width 6, rolloff 0.99) to
    ~1e-6, computed from the taps inside each phase's window only.
    """
    assert samples.ndim == 1, samples.shape
    if orig_rate <= 0 or new_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_rate} -> {new_rate}")
    if orig_rate == new_rate:
        return samples.astype(np.float32, copy=False)
    plan = _resample_plan(int(orig_rate), int(new_rate))
    num, den = plan.out_per_in
    length = math.ceil(num * samples.shape[0] / den)
    frames = -(-length // plan.phases)
    # Zeros on the left as torchaudio pads; on the right enough for the last whole frame.
    right = (frames - 1) * plan.stride + plan.taps - plan.left_pad - samples.shape[0]
    padded = torch.from_numpy(
        np.pad(samples.astype(np.float32, copy=False), (plan.left_pad, max(right, 0)))
    )
    # (frames, taps) view: frame f reads the input from f * stride. torch, not numpy: OpenBLAS
    # spins its own threads on these thin products and stalls on a busy machine.
    view = padded.as_strided((frames, plan.taps), (plan.stride, 1))
    out = torch.empty(frames, plan.phases)
    block = max(1, _BLOCK_SAMPLES // plan.stride)
    for lo in range(0, frames, block):
        rows, out_rows = view[lo : lo + block], out[lo : lo + block]
        for group in plan.groups:
            segment = rows[:, group.tap : group.tap + group.weights.shape[1]]
            out_rows[:, group.first : group.stop] = segment @ group.weights.T
    return out.reshape(-1)[:length].numpy()


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
