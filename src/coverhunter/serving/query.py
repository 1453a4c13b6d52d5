"""One audio file to chunk embeddings, exactly as the gallery was made: the query side of search.

Decode (16 kHz mono), peak-normalise, log-CQT, cut into the gallery's non-overlapping chunks (tail
kept when long enough), embed, L2-normalise. `coverhunter identify` and the MLflow model both
call this, with the CQT and chunk settings stored beside the index or the model.

The CQT front end is made once per process and configuration (`cqt_extractor`); given a folder,
its 1992v2 kernels are kept there (`cqt-<key>.pt`, the key a hash of the CQT settings
and the nnAudio version that built them), so a new process makes it without importing nnAudio
and the `scipy.signal` it imports (over a second of `coverhunter identify`'s cold start).

`coverhunter identify` also refuses what ingest would set aside (`validation`: silent, too short,
NaN samples; the same check and the same words as `ingest_rejects`) and what holds no music at
all (`min_tonality`, see `tonality`): such a query has no answer, only a nearest neighbour.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import logging
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt_batch
from coverhunter.audio.io import AudioDecodeError, decode_audio, peak_normalise, resample
from coverhunter.data.atomic import write_bytes_atomically
from coverhunter.data.chunking import chunk_starts
from coverhunter.data.validation import ValidationConfig, audio_problem
from coverhunter.retrieval.embed import EmbedFn, embed_track_chunks
from coverhunter.retrieval.gallery import ChunkSettings

logger = logging.getLogger(__name__)


class QueryRejected(ValueError):  # noqa: N818 (what happened to the query)
    """A readable recording that ingest would set aside, or that holds no music (`reason`)."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def tonality(log_cqt: np.ndarray, floor_db: float = 60.0) -> float:
    """How far a recording's partials stand out of its own spectral envelope, in dB.

    Per frame, each bin's level above the median of the octave around it (13 bins), averaged over
    the 10 bins (of 96) that stand out most; then the median over the frames that sound (loudest
    bin within `floor_db` of the recording's loudest cell). Harmonic sounds put partials well
    above the envelope; noise of any colour does not: its CQT cells scatter around a smooth slope,
    so white, pink, brown and blue noise all measure 6.5 dB (6.47-6.58 over 21 clips, 1 to 10
    minutes), music 8.4-26.8 dB (150 recordings: 30 of the rendered corpus, 120 of synthetic
    collections), and music under white noise of equal power still 7.6-14.1 dB
    (`identify.min_tonality_db` in `conf/base/parameters_inference.yml` is set between).
    `log_cqt` is `(T, F)` in dB.
    """
    assert log_cqt.ndim == 2, f"log_cqt must be (T, F), got {log_cqt.shape}"
    levels = np.asarray(log_cqt, dtype=np.float32)
    if levels.shape[0] == 0:
        return 0.0
    sounding = levels[levels.max(axis=1) >= levels.max() - floor_db]
    half = 6
    padded = np.pad(sounding, ((0, 0), (half, half)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1, axis=1)
    above = sounding - np.median(windows, axis=-1)
    top = np.sort(above, axis=1)[:, -10:]
    return float(np.median(top.mean(axis=1)))


# The CQT front ends made in this process, by (settings, device).
_EXTRACTORS: dict[tuple[CQTConfig, str], CQTExtractor] = {}


def kernel_file(config: CQTConfig, cache_dir: str | Path) -> Path:
    """Where `cqt_extractor` keeps the 1992v2 kernels of `config` in `cache_dir`."""
    made_by = {"cqt": config.to_dict(), "nnAudio": importlib.metadata.version("nnAudio")}
    key = hashlib.blake2b(json.dumps(made_by, sort_keys=True).encode(), digest_size=8).hexdigest()
    return Path(cache_dir) / f"cqt-{key}.pt"


def _read_kernels(path: Path) -> dict[str, torch.Tensor] | None:
    if not path.is_file():
        return None
    try:
        kernels = torch.load(path, weights_only=True)  # tensors only, no pickled code
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as error:  # made again
        logger.warning("CQT kernels at %s unreadable (%s); making them again", path, error)
        return None
    names = {"real", "imag", "lengths"}
    if not isinstance(kernels, dict) or set(kernels) != names:
        return None
    return kernels


def _write_kernels(path: Path, kernels: dict[str, torch.Tensor]) -> None:
    buffer = io.BytesIO()
    torch.save(kernels, buffer)
    try:
        write_bytes_atomically(path, buffer.getvalue())
    except OSError as error:  # a read-only home: the next process makes them again
        logger.warning("CQT kernels not kept at %s: %s", path, error)


def cqt_extractor(
    config: CQTConfig, device: str | torch.device = "cpu", cache_dir: str | Path | None = None
) -> CQTExtractor:
    """The CQT front end of `config` on `device`, made once per process (see the module doc).

    With `cache_dir`, 1992v2 kernels are read from `kernel_file(config, cache_dir)` when it is
    there, and written to it when they had to be made.
    """
    key = (config, str(torch.device(device)))
    if key not in _EXTRACTORS:
        path = (
            None
            if cache_dir is None or config.method != "1992v2"
            else kernel_file(config, cache_dir)
        )
        kernels = None if path is None else _read_kernels(path)
        extractor = CQTExtractor(config, kernels)
        if path is not None and kernels is None:
            _write_kernels(path, extractor.kernels())
        _EXTRACTORS[key] = extractor.to(device)
    return _EXTRACTORS[key]


@dataclass(frozen=True)
class QueryChunks:
    chunks: torch.Tensor  # (N, D) unit rows, on the CPU
    starts_s: np.ndarray  # (N,) start of each chunk in the recording, seconds
    duration_s: float
    sequence: torch.Tensor | None = None  # (T, D) unit rows on the re-rank's hop, when asked
    chroma: torch.Tensor | None = None  # (T, 12) the re-rank's pitch stage's chroma, when asked


def embed_audio_file(
    path: str | Path,
    embed_fn: EmbedFn,
    cqt: CQTConfig,
    chunking: ChunkSettings,
    batch_size: int,
    min_frames: int = 1,
    max_duration_s: float | None = None,
    device: str | torch.device = "cpu",
    validation: ValidationConfig | None = None,
    min_tonality: float | None = None,
    sequence_s: tuple[float, float] | None = None,
    cqt_cache_dir: str | Path | None = None,
    chroma_fn: Callable[[np.ndarray, np.ndarray], torch.Tensor] | None = None,
) -> QueryChunks:
    """Chunk embeddings of the recording at `path`.

    Args:
        embed_fn: `embed(cqt (B, T, F), lengths (B,)) -> (B, D)`: an `Embedder`
            (`inference_embed_fn`), which runs on its own device, or a bare function such as a
            model's `embed` in eval mode on `device`.
        min_frames: the embedder's shortest input; a shorter recording is an `AudioDecodeError`.
        max_duration_s: only the first seconds are read when given.
        device: where the CQT runs, and a bare `embed_fn`.
        validation: ingest's checks (silence, minimum length, ...), applied when given.
        min_tonality: the least `tonality` (dB) of a recording that holds music, when given.
        sequence_s: `(window_s, hop_s)`: also embed the recording as the re-rank's sequence
            (`window_s` chunks every `hop_s`, as the gallery's `gallery_sequences`).
        cqt_cache_dir: where the CQT kernels are kept between processes (`cqt_extractor`).
        chroma_fn: `(log-CQT (T, F), peak-normalised audio (S,)) -> (T', 12)`: also the
            re-rank's chroma sequence, made as the gallery's `gallery_chroma`
            (`serving/chroma.py`, `recording_chroma`).

    Raises:
        AudioDecodeError: the file is missing, unreadable, or too short to embed.
        QueryRejected: the recording fails `validation` or `min_tonality`.
    """
    decoded = decode_audio(path, cqt.sample_rate, max_duration_s)
    if validation is not None and (reason := audio_problem(decoded, validation)) is not None:
        raise QueryRejected(path, reason)
    signal = resample(decoded.samples, decoded.sample_rate, cqt.sample_rate)
    if signal.size == 0:
        raise AudioDecodeError(path, "the file holds no audio samples")
    duration_s = signal.shape[0] / cqt.sample_rate
    extractor = cqt_extractor(cqt, device, cqt_cache_dir)
    normalised = peak_normalise(signal)
    features = log_cqt_batch([normalised], extractor, device)[0]
    if min_tonality is not None and (measured := tonality(features)) < min_tonality:
        raise QueryRejected(
            path,
            f"no tonal structure, noise rather than music (tonality {measured:.1f} dB < "
            f"{min_tonality:g} dB)",
        )
    if features.shape[0] < min_frames:
        raise AudioDecodeError(
            path,
            f"{duration_s:.2f} s of audio is too short to embed ({min_frames} CQT frames needed)",
        )
    chunk_frames, min_tail_frames = chunking.frames(cqt.frame_rate, min_frames)
    chunks = embed_track_chunks(
        embed_fn, features, chunk_frames, batch_size, chunk_frames, min_tail_frames, device
    )
    starts = chunk_starts(features.shape[0], chunk_frames, chunk_frames, True, min_tail_frames)
    sequence = None
    if sequence_s is not None:
        window_s, hop_s = sequence_s
        window, window_tail = ChunkSettings(window_s, hop_s).frames(cqt.frame_rate, min_frames)
        hop = round(hop_s * cqt.frame_rate)
        steps = embed_track_chunks(embed_fn, features, window, batch_size, hop, window_tail, device)
        sequence = torch.nn.functional.normalize(steps, dim=1)
    return QueryChunks(
        chunks=torch.nn.functional.normalize(chunks, dim=1),
        starts_s=starts.astype(np.float64) / cqt.frame_rate,
        duration_s=float(duration_s),
        sequence=sequence,
        chroma=None if chroma_fn is None else chroma_fn(features, normalised),
    )


def track_embedding(chunks: torch.Tensor) -> torch.Tensor:
    """`(N, D)` unit chunk embeddings -> `(D,)` their mean, re-normalised (the gallery's rule)."""
    assert chunks.ndim == 2 and chunks.shape[0] > 0, f"chunks must be (N>0, D), got {chunks.shape}"
    return torch.nn.functional.normalize(chunks.double().sum(0), dim=0).float()
