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

It is pairwise and slow (each pair aligns two frame sequences), so the evaluation scores a
capped, seeded choice of queries spread over the works (`stratified_queries`), each against every
other performance, and reports the measured time per pair with the metrics (`score_qmax`). The
learned models are scored on the same queries by `metrics_on_queries`, so the rows compare.
"""

from __future__ import annotations

import importlib.util
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import torch

from coverhunter.evaluation.bootstrap import Bootstrap
from coverhunter.evaluation.metrics import mirex_metrics

# Essentia is imported by the functions that use it, never at module load: it is slow to import,
# and it has no wheel for every platform (macOS on Apple silicon lacks the pinned one), where
# the rest of the evaluation must still import and run (pyproject.toml: the `qmax` extra).
INSTALL_HINT = (
    "the Qmax baseline needs Essentia: pip install -e '.[qmax]' (a wheel exists for Linux "
    "x86_64 and macOS), or set evaluation.qmax.max_queries: 0"
)


def essentia_available() -> bool:
    """Whether Essentia can be imported here (without importing it)."""
    return importlib.util.find_spec("essentia") is not None


def _essentia_standard() -> ModuleType:
    """`essentia.standard`, imported on first use, with its start-up announcements silenced."""
    try:
        import essentia
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    essentia.log.infoActive = False  # essentia.standard announces its classifier models on import
    import essentia.standard

    return essentia.standard


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
    es = _essentia_standard()
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
        es = _essentia_standard()
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
    skip: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Distances `(Q, R)` float64 of the first `max_queries` queries (all when None) to every
    reference, and the measured seconds per scored pair.

    Each element is an HPCP `(frames, 12)`. `skip (Q, R)` bool marks pairs left unscored (a query
    against itself, say): they hold `+inf` and are not timed. Without it every pair is scored.
    """
    if max_queries is not None and max_queries < 1:
        raise ValueError(f"max_queries={max_queries} must be >= 1 (or None for all)")
    if len(reference_hpcps) == 0:
        raise ValueError("reference_hpcps is empty")
    queries = list(query_hpcps)[:max_queries]
    shape = (len(queries), len(reference_hpcps))
    if skip is None:
        skip = np.zeros(shape, dtype=bool)
    if skip.shape != shape:
        raise ValueError(f"skip has shape {skip.shape}, the distances {shape}")
    qmax = _Qmax(settings or QmaxSettings())
    distances = np.full(shape, np.inf, dtype=np.float64)
    started = time.perf_counter()
    for i, query in enumerate(queries):
        for j, reference in enumerate(reference_hpcps):
            if not skip[i, j]:
                distances[i, j] = qmax(query, reference)
    seconds_per_pair = (time.perf_counter() - started) / max(int((~skip).sum()), 1)
    return distances, seconds_per_pair


def stratified_queries(
    perf_ids: Sequence[str], work_ids: Sequence[str], max_queries: int | None, seed: int
) -> list[str]:
    """Up to `max_queries` of `perf_ids` (all when None), spread over the works evenly.

    Only performances whose work has another among `perf_ids` are candidates (the others have
    nothing to find). Each work, in a seeded random order, gives one performance (chosen at
    random) per round until the cap is reached, so the works' counts differ by at most one
    while every work has performances left. Deterministic for a seed and independent of the
    input order; returned in the order of `perf_ids`.
    """
    if len(perf_ids) != len(work_ids):
        raise ValueError(f"{len(perf_ids)} perf_ids but {len(work_ids)} work_ids")
    if len(set(perf_ids)) != len(perf_ids):
        raise ValueError("perf_ids are not unique")
    if max_queries is not None and max_queries < 0:
        raise ValueError(f"max_queries={max_queries} must be >= 0 (or None for all)")
    by_work: dict[str, list[str]] = defaultdict(list)
    for perf_id, work_id in zip(perf_ids, work_ids, strict=True):
        by_work[work_id].append(perf_id)
    works = sorted(w for w, performances in by_work.items() if len(performances) > 1)
    rng = np.random.default_rng(seed)
    work_turn = {works[k]: turn for turn, k in enumerate(rng.permutation(len(works)))}
    order = {}  # perf_id -> (round, turn of its work within the round)
    for work in works:
        performances = sorted(by_work[work])
        for round_, k in enumerate(rng.permutation(len(performances))):
            order[performances[k]] = (round_, work_turn[work])
    chosen = set(sorted(order, key=order.get)[:max_queries])
    return [p for p in perf_ids if p in chosen]


def _query_rows(perf_ids: Sequence[str], query_perf_ids: Sequence[str]) -> list[int]:
    """Positions of `query_perf_ids` in `perf_ids`; ValueError naming any that are not there."""
    position = {perf_id: i for i, perf_id in enumerate(perf_ids)}
    missing = [p for p in query_perf_ids if p not in position]
    if missing:
        raise ValueError(f"queries not among the performances: {missing[:3]}")
    return [position[p] for p in query_perf_ids]


def _metrics_of_rows(
    row_distances: torch.Tensor | np.ndarray,
    rows: list[int],
    work_ids: Sequence[str],
    perf_ids: Sequence[str],
    query_perf_ids: Sequence[str],
    bootstrap: Bootstrap | None = None,
) -> dict:
    """MIREX metrics of `row_distances (Q, N)`: query q is performance `rows[q]` of `perf_ids`."""
    return mirex_metrics(
        row_distances,
        [work_ids[i] for i in rows],
        list(work_ids),
        list(query_perf_ids),
        list(perf_ids),
        bootstrap=bootstrap,
    )


def metrics_on_queries(
    distances: torch.Tensor | np.ndarray,
    work_ids: Sequence[str],
    perf_ids: Sequence[str],
    query_perf_ids: Sequence[str],
    bootstrap: Bootstrap | None = None,
) -> dict:
    """MIREX metrics of the rows `query_perf_ids` of an all-against-all `distances (N, N)`:
    each chosen performance a query against every performance of `perf_ids` (with `"ci95"`
    when `bootstrap` is given)."""
    dist = torch.as_tensor(distances)
    assert dist.ndim == 2 and dist.shape[0] == dist.shape[1] == len(perf_ids), dist.shape
    rows = _query_rows(perf_ids, query_perf_ids)
    row_distances = dist[torch.as_tensor(rows, dtype=torch.long)]
    return _metrics_of_rows(row_distances, rows, work_ids, perf_ids, query_perf_ids, bootstrap)


def score_qmax(
    hpcps: Mapping[str, np.ndarray],
    perf_ids: Sequence[str],
    work_ids: Sequence[str],
    query_perf_ids: Sequence[str],
    settings: QmaxSettings | None = None,
    bootstrap: Bootstrap | None = None,
) -> dict:
    """Qmax's MIREX metrics, each query against every other performance of `perf_ids`, with
    `n_pairs` (pairs scored), `seconds_per_pair` (cross-similarity + Qmax) and `seconds_pairs`.

    `hpcps` maps each perf_id to its HPCP `(frames, 12)`, computed once per performance.
    """
    if len(query_perf_ids) == 0:
        raise ValueError("no queries to score")
    missing = [p for p in perf_ids if p not in hpcps]
    if missing:
        raise ValueError(f"no HPCP for {len(missing)} performances, e.g. {missing[:3]}")
    rows = _query_rows(perf_ids, query_perf_ids)
    itself = np.zeros((len(rows), len(perf_ids)), dtype=bool)
    itself[np.arange(len(rows)), rows] = True  # the query is never its own candidate (MIREX)
    distances, seconds_per_pair = qmax_distance_matrix(
        [hpcps[p] for p in query_perf_ids],
        [hpcps[p] for p in perf_ids],
        settings=settings,
        skip=itself,
    )
    n_pairs = int((~itself).sum())
    metrics = _metrics_of_rows(distances, rows, work_ids, perf_ids, query_perf_ids, bootstrap)
    return {
        **metrics,
        "n_pairs": n_pairs,
        "seconds_per_pair": seconds_per_pair,
        "seconds_pairs": seconds_per_pair * n_pairs,
    }
