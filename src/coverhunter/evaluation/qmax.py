"""The classical cover-song baseline: HPCP chroma, OTI cross-recurrence and Qmax, by Essentia.

The pipeline of Serra, Serra & Andrzejak (2009), "Cross recurrence quantification for cover song
identification", as Essentia implements it:

1. `hpcp_features`: harmonic pitch class profiles, frame by frame (`SpectralPeaks` -> `HPCP`);
   bin 0 is A (440 Hz reference), bin k is k semitones above it; each frame's maximum is 1.
2. `ChromaCrossSimilarity`: the reference is transposed to the query's key by the optimal
   transposition index (OTI), frames are stacked into short sequences (time-delay embedding), and
   the cross-recurrence plot marks the pairs among the closest `binarize_percentile` of each row
   and column.
3. `CoverSongSimilarity`: Smith-Waterman local alignment with the Qmax constraints on that binary
   plot; the longest well-matched path gives the score, normalised by the reference's length
   into a distance (lower = more similar; asymmetric: query against reference).

It is pairwise and slow (each pair aligns two frame sequences), so `qmax_distance_matrix` scores
the first `max_queries` queries only and returns the measured time per pair with the distances.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import essentia
import numpy as np

essentia.log.infoActive = False  # essentia.standard announces its classifier models on import
import essentia.standard as es  # noqa: E402


def hpcp_features(
    audio: np.ndarray,
    sample_rate: int,
    frame_size: int = 4096,
    hop_size: int = 2048,
    min_frequency: float = 100.0,
    max_frequency: float = 4000.0,
    max_peaks: int = 100,
    harmonics: int = 8,
    window: str = "blackmanharris62",
) -> np.ndarray:
    """`audio (S,)` float32 mono at `sample_rate` -> HPCP `(frames, 12)` float32.

    Frames of `frame_size` samples every `hop_size`; spectral peaks between `min_frequency` and
    `max_frequency` Hz, each also credited to the `harmonics` pitches it may be an overtone of.
    """
    assert audio.ndim == 1, f"audio must be (S,), got {audio.shape}"
    if len(audio) < frame_size:
        raise ValueError(f"audio of {len(audio)} samples is shorter than frame_size={frame_size}")
    windowing = es.Windowing(type=window)
    spectrum = es.Spectrum()
    peaks = es.SpectralPeaks(
        sampleRate=sample_rate,
        minFrequency=min_frequency,
        maxFrequency=max_frequency,
        maxPeaks=max_peaks,
        magnitudeThreshold=1e-5,
        orderBy="magnitude",
    )
    hpcp = es.HPCP(
        size=12,
        referenceFrequency=440.0,
        harmonics=harmonics,
        sampleRate=sample_rate,
        minFrequency=min_frequency,
        maxFrequency=max_frequency,
        normalized="unitMax",
    )
    frames = es.FrameGenerator(
        np.ascontiguousarray(audio, dtype=np.float32),
        frameSize=frame_size,
        hopSize=hop_size,
        startFromZero=True,
    )
    rows = [hpcp(*peaks(spectrum(windowing(frame)))) for frame in frames]
    return np.asarray(rows, dtype=np.float32).reshape(-1, 12)


@dataclass(frozen=True)
class QmaxSettings:
    """Cross-recurrence and alignment settings; the defaults are Essentia's (Serra et al. 2009)."""

    frame_stack_size: int = 9  # frames embedded into one state (time-delay embedding)
    frame_stack_stride: int = 1
    binarize_percentile: float = 0.095  # share of closest pairs per row and column marked similar
    oti_binary: bool = False  # OTI-based binary similarity per frame pair instead of euclidean
    dis_onset: float = 0.5  # penalty for opening a disruption of the path
    dis_extension: float = 0.5  # penalty for extending it
    alignment_type: str = "serra09"  # or "chen17"
    distance_type: str = "asymmetric"  # or "symmetric"

    @property
    def min_frames(self) -> int:
        """HPCP frames a track needs for one frame stack."""
        return (self.frame_stack_size - 1) * self.frame_stack_stride + 1


class _Qmax:
    """Essentia's two algorithms, configured once and reused for every pair."""

    def __init__(self, settings: QmaxSettings):
        self.settings = settings
        self.cross_similarity = es.ChromaCrossSimilarity(
            frameStackSize=settings.frame_stack_size,
            frameStackStride=settings.frame_stack_stride,
            binarizePercentile=settings.binarize_percentile,
            oti=True,
            otiBinary=settings.oti_binary,
        )
        self.alignment = es.CoverSongSimilarity(
            disOnset=settings.dis_onset,
            disExtension=settings.dis_extension,
            alignmentType=settings.alignment_type,
            distanceType=settings.distance_type,
        )

    def __call__(self, query: np.ndarray, reference: np.ndarray) -> float:
        for name, hpcp in (("query", query), ("reference", reference)):
            assert hpcp.ndim == 2 and hpcp.shape[1] == 12, f"{name} must be (frames, 12)"
            if len(hpcp) < self.settings.min_frames:
                raise ValueError(
                    f"{name} has {len(hpcp)} HPCP frames; "
                    f"a frame stack needs {self.settings.min_frames}"
                )
        plot = self.cross_similarity(
            np.ascontiguousarray(query, dtype=np.float32),
            np.ascontiguousarray(reference, dtype=np.float32),
        )
        _, distance = self.alignment(plot)
        return float(distance)


def qmax_distance(
    hpcp_a: np.ndarray, hpcp_b: np.ndarray, settings: QmaxSettings | None = None
) -> float:
    """Qmax cover-song distance of query `hpcp_a (Ta, 12)` to reference `hpcp_b (Tb, 12)`.

    Lower is more similar. ValueError when a track has fewer frames than one frame stack.
    """
    return _Qmax(settings or QmaxSettings())(hpcp_a, hpcp_b)


def qmax_distance_matrix(
    query_hpcps: Sequence[np.ndarray],
    reference_hpcps: Sequence[np.ndarray],
    max_queries: int | None = None,
    settings: QmaxSettings | None = None,
) -> tuple[np.ndarray, float]:
    """Distances `(Q, R)` float64 of the first `max_queries` queries (all when None) to every
    reference, and the measured seconds per pair.

    Each element is an HPCP `(frames, 12)`. A query that is also a reference is scored against
    itself like any other pair: the caller masks what its protocol excludes.
    """
    if max_queries is not None and max_queries < 1:
        raise ValueError(f"max_queries={max_queries} must be >= 1 (or None for all)")
    if len(reference_hpcps) == 0:
        raise ValueError("reference_hpcps is empty")
    queries = list(query_hpcps)[:max_queries]
    qmax = _Qmax(settings or QmaxSettings())
    distances = np.empty((len(queries), len(reference_hpcps)), dtype=np.float64)
    started = time.perf_counter()
    for i, query in enumerate(queries):
        for j, reference in enumerate(reference_hpcps):
            distances[i, j] = qmax(query, reference)
    seconds_per_pair = (time.perf_counter() - started) / max(distances.size, 1)
    return distances, seconds_per_pair
