"""Which pieces of music21's corpus become works, and how each work is cut.

The candidates come in a seeded order that takes one piece of each corpus collection in turn
(`corpus_pieces.py`), less the filler pieces set aside for preludes and outros; a work is the
piece's excerpt of whole bars at the piece's own tempo, in a drawn number of versions. Streams are
`numpy.random.default_rng([seed, work_idx, version_idx])` for the versions; the order, the
fillers and a work's own choices use the streams below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from coverhunter.corpora.rendered_corpus.config import RenderedCorpusConfig
from coverhunter.corpora.rendered_corpus.corpus_pieces import (
    Candidate,
    Piece,
    PieceError,
    excerpt,
    interleave_collections,
    list_candidates,
    load_piece,
)

WORK_PREFIX = "rc_"
# Streams besides the versions' [seed, work_idx, version_idx] (version_idx stays below 100).
WORK_STREAM, ORDER_STREAM, FILLER_STREAM = 1000, 1001, 1002
MIN_NOTES = 8  # an excerpt with fewer notes is no tune


def random_stream(*key: int) -> np.random.Generator:
    """The stream of `key` ([seed, work_idx, version_idx], or one of the streams above)."""
    return np.random.default_rng(list(key))


def select_candidates(
    config: RenderedCorpusConfig, seed: int
) -> tuple[list[Candidate], tuple[Candidate, ...]]:
    """The order in which pieces become works, and the filler pieces for preludes and outros.

    The order is a seeded round robin over the corpus collections; the fillers are a seeded
    uniform sample of all candidates (so mostly folk tunes and masses: the one-piece collections
    stay works), left out of the order: no recording's prelude or outro is a work of the
    collection.
    """
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    candidates = list_candidates(config.max_score_kb)
    picked = random_stream(seed, FILLER_STREAM).choice(
        len(candidates), config.n_fillers, replace=False
    )
    fillers = tuple(candidates[i] for i in sorted(picked))
    reserved = set(fillers)
    order = interleave_collections(candidates, random_stream(seed, ORDER_STREAM))
    return [c for c in order if c not in reserved], fillers


def work_id_of(candidate: Candidate) -> str:
    """A readable id from the corpus name: `essenFolksong/altdeu10.abc#5` -> `rc_essenFolksong_altdeu10_5`."""
    stem = candidate.path.rsplit(".", maxsplit=1)[0]
    name = stem if candidate.number is None else f"{stem}_{candidate.number}"
    return WORK_PREFIX + re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_")


@dataclass(frozen=True)
class WorkPlan:
    """A work: which piece, which excerpt of it, at what tempo, in how many versions."""

    work_idx: int
    candidate: Candidate
    piece: Piece  # the excerpt, from 0
    excerpt_start_q: float
    quarter_bpm: float  # the piece's own tempo (its score's mark, else drawn)
    n_versions: int

    @property
    def work_id(self) -> str:
        return work_id_of(self.candidate)


def own_tempo(piece: Piece, config: RenderedCorpusConfig, rng: np.random.Generator) -> float:
    """Quarter notes a minute: the score's tempo mark, else a beat rate drawn for the piece."""
    if piece.quarter_bpm is not None:
        return piece.quarter_bpm
    return float(rng.uniform(config.min_bpm, config.max_bpm)) * piece.beat_q


def plan_work(
    candidate: Candidate, work_idx: int, config: RenderedCorpusConfig, seed: int
) -> WorkPlan:
    """Parse the piece and choose its excerpt; PieceError when it cannot be a work."""
    piece = load_piece(candidate)
    rng = random_stream(seed, work_idx, WORK_STREAM)
    quarter_bpm = own_tempo(piece, config, rng)
    quarter_s = 60.0 / quarter_bpm
    if piece.length_q * quarter_s < config.min_excerpt_s:
        raise PieceError(
            f"{candidate.name}: {piece.length_q * quarter_s:.1f} s long, "
            f"shorter than min_excerpt_s={config.min_excerpt_s}"
        )
    min_q, max_q = config.min_excerpt_s / quarter_s, config.max_excerpt_s / quarter_s
    start, end = 0.0, piece.length_q
    if piece.length_q > max_q:
        bars = piece.bar_offsets
        if rng.random() >= config.p_excerpt_from_start:  # else at the top, where themes are
            start = float(rng.choice(bars[bars <= piece.length_q - max_q]))
        ends = bars[(bars >= start + min_q) & (bars <= start + max_q)]
        end = float(ends.max()) if len(ends) else start + max_q
    cut = excerpt(piece, start, end)
    if cut.n_notes < MIN_NOTES:
        raise PieceError(f"{candidate.name}: only {cut.n_notes} notes in bars {start}-{end}")
    n_versions = int(rng.integers(config.min_versions, config.max_versions + 1))
    return WorkPlan(work_idx, candidate, cut, start, quarter_bpm, n_versions)
