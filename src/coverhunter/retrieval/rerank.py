"""Second stage of search: re-score the shortlist by a local alignment of chunk-embedding sequences.

The faiss shortlist compares 45 s chunks; it says *that* two recordings share something, coarsely.
Here each recording is a sequence of chunk embeddings on a fine hop (`window_s` windows every
`hop_s` seconds, embedded by the same model), and a query is aligned with each of its top-K
candidates: the cosine similarity matrix of the two sequences, then a Qmax-style local alignment
(Serra et al. 2009) over it, its cell loop compiled (`retrieval/alignment_kernel.py`). A cell
extends a path when its similarity is above `match_threshold` (gain `sim - match_threshold`,
negative below it); a path may step (1, 1), (2, 1) or (1, 2), so tempo may differ by up to 2x; a
path never drops below 0 (it starts afresh). The best path gives

- the alignment score: its total gain over the shorter sequence's length and the most a step can
  gain (`1 - match_threshold`), so 1 means every step of the shorter recording matched perfectly;
- where the two recordings match: the path's first and last step in each (seconds).

The final score fuses the two stages, `(1 - w) * embedding similarity + w * alignment score`
(`fusion_weight`, chosen on validation works: `evaluation/calibration.py`). With the pitch stage
on (`pitch`, `retrieval/pitch_rerank.py`: the same alignment on the two recordings' chroma), that
is fused in turn with the pitch score, `(1 - p) * fused + p * pitch score` (`Reranked.distances`;
`p` chosen on validation works with `w`).

`centre` (off by default) aligns double-centred similarities instead: each cell less its row's
and its column's mean, plus the matrix's mean, so a step similar to everything in the other
recording (a hub) extends no path and `match_threshold` is read against the pair's own level
(0 or a little below suits it). Measured with the tests' tiny model (4 s windows every second;
`match_threshold` -0.05 centred against 0.5 raw; mAP of the test works at each one's best fusion
weight), on the tests' run: mAP 0.618 -> 0.628 (weight 0.75 both), match starts within a hop
83.5% -> 94.2%; on a collection of the same kind with preludes and tempo changes (40 works, the
same model): mAP 0.565 -> 0.594 (weight 0.75 -> 1), starts within a hop 45.8% -> 37.3%, since a
prelude's steps, unlike every step of the other recording, lose that mark when each row is
centred. Hence off until measured on the default run.

Why the gallery's sequences are stored beside the index (`gallery_sequences`) and not computed
for the shortlist at query time: the shortlist names gallery recordings whose audio and CQT a
query has no business reading, and embedding K recordings on a fine hop costs K times a whole
query (at K = 50, 50 x 48 windows); stored, the re-rank is K small matrix products.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from coverhunter.retrieval.alignment_kernel import best_local_paths


@dataclass(frozen=True)
class RerankSettings:
    """`k` candidates re-scored per query; sequences of `window_s` windows every `hop_s`;
    `match_threshold` the similarity above which steps extend a path; `fusion_weight` the
    alignment's share of the final score; `centre`: align double-centred similarities; `pitch`:
    the pitch stage's parameters (`retrieval/pitch_rerank.py`, `PitchSettings`; None: none)."""

    k: int = 50
    window_s: float = 10.0
    hop_s: float = 2.5
    match_threshold: float = 0.5
    fusion_weight: float = 0.5
    centre: bool = False
    pitch: Mapping | None = None

    def __post_init__(self):
        if self.k < 1:
            raise ValueError(f"rerank k must be at least 1, got {self.k}")
        if self.window_s <= 0 or self.hop_s <= 0:
            raise ValueError(f"rerank window_s and hop_s must be positive, got {self}")
        if not -1.0 < self.match_threshold < 1.0:
            raise ValueError(f"rerank match_threshold must lie in (-1, 1), got {self}")
        if not 0.0 <= self.fusion_weight <= 1.0:
            raise ValueError(f"rerank fusion_weight must lie in [0, 1], got {self}")


@dataclass(frozen=True)
class Alignment:
    """The best local path of each candidate `(B,)`: score in [0, 1], first and last step."""

    score: torch.Tensor  # (B,) float32
    query_first: torch.Tensor  # (B,) int64, step index in the query sequence
    query_last: torch.Tensor  # (B,) int64
    ref_first: torch.Tensor  # (B,) int64, step index in the candidate's sequence
    ref_last: torch.Tensor  # (B,) int64


def pad_sequences(sequences: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """`[(T_b, D)]` -> `(B, T_max, D)` zero-padded, and the lengths `(B,)`."""
    assert len(sequences) > 0, "no sequences to pad"
    lengths = torch.tensor([s.shape[0] for s in sequences], dtype=torch.long)
    out = torch.zeros(len(sequences), int(lengths.max()), sequences[0].shape[1])
    for b, seq in enumerate(sequences):
        assert seq.ndim == 2, f"a sequence must be (T, D), got {tuple(seq.shape)}"
        out[b, : seq.shape[0]] = seq
    return out, lengths


def double_centred(sim: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """`(B, Tq, Tr)` similarities less each valid row's and column's mean, plus the valid cells'
    mean (the matrix's own level); `valid` `(B, Tq, Tr)` bool marks the cells of each pair."""
    weight = valid.float()
    masked = sim * weight
    row = masked.sum(2, keepdim=True) / weight.sum(2, keepdim=True).clamp(min=1)
    col = masked.sum(1, keepdim=True) / weight.sum(1, keepdim=True).clamp(min=1)
    grand = masked.sum((1, 2), keepdim=True) / weight.sum((1, 2), keepdim=True).clamp(min=1)
    return sim - row - col + grand


def local_alignment(
    sim: torch.Tensor,
    query_len: torch.Tensor,
    ref_len: torch.Tensor,
    match_threshold: float,
    centre: bool = False,
) -> Alignment:
    """The best Qmax-style local path through each similarity matrix (see the module doc).

    Args:
        sim: `(B, Tq, Tr)` cosine similarities of query step i and candidate step j.
        query_len, ref_len: `(B,)` valid steps of each (cells beyond are never on a path).
        match_threshold: similarity above which a cell adds to a path.
        centre: align `double_centred` similarities (see the module doc).
    """
    assert sim.ndim == 3, f"sim must be (B, Tq, Tr), got {tuple(sim.shape)}"
    sim = sim.float().cpu()
    if centre:
        _, tq, tr = sim.shape
        rows = torch.arange(tq)[None, :, None] < query_len[:, None, None]
        cols = torch.arange(tr)[None, None, :] < ref_len[:, None, None]
        sim = double_centred(sim, rows & cols)
    # the inner loops, cell by cell, compiled (`retrieval/alignment_kernel.py`)
    gain = (sim - match_threshold).contiguous().numpy()
    top, query_first, query_last, ref_first, ref_last = best_local_paths(
        gain, query_len.numpy().astype(np.int64), ref_len.numpy().astype(np.int64)
    )
    shorter = torch.minimum(query_len, ref_len).clamp(min=1).float()
    return Alignment(
        score=(torch.from_numpy(top) / (shorter * (1.0 - match_threshold))).clamp(max=1.0),
        query_first=torch.from_numpy(query_first),
        query_last=torch.from_numpy(query_last),
        ref_first=torch.from_numpy(ref_first),
        ref_last=torch.from_numpy(ref_last),
    )


def align_candidates(
    query: torch.Tensor,
    candidates: Sequence[torch.Tensor],
    match_threshold: float,
    centre: bool = False,
) -> Alignment:
    """Align one query sequence `(Tq, D)` (unit rows) with each candidate `(T_b, D)`, batched."""
    assert query.ndim == 2, f"query must be (Tq, D), got {tuple(query.shape)}"
    refs, ref_len = pad_sequences(candidates)
    sim = torch.einsum("qd,brd->bqr", query.float(), refs)
    query_len = torch.full((len(candidates),), query.shape[0], dtype=torch.long)
    return local_alignment(sim, query_len, ref_len, match_threshold, centre)


def fuse(embedding_similarity: torch.Tensor, alignment_score: torch.Tensor, weight: float):
    """The final score: `(1 - weight) * embedding similarity + weight * alignment score`."""
    return (1.0 - weight) * embedding_similarity + weight * alignment_score


def segment_seconds(alignment: Alignment, hop_s: float, window_s: float) -> dict[str, np.ndarray]:
    """Where the two recordings match, in seconds: the first step's start to the last step's
    window end, in the query and in the candidate."""
    return {
        "query_start_s": alignment.query_first.numpy() * hop_s,
        "query_end_s": alignment.query_last.numpy() * hop_s + window_s,
        "match_start_s": alignment.ref_first.numpy() * hop_s,
        "match_end_s": alignment.ref_last.numpy() * hop_s + window_s,
    }


@dataclass(frozen=True)
class Reranked:
    """Each query's shortlist, its first-stage distances, the alignment of every pair and, when
    the pitch stage ran (`retrieval/pitch_rerank.py`), the pitch alignment's score and where it
    places each pair."""

    embedding_distances: torch.Tensor  # (Q, N) first-stage cosine distances
    shortlist: torch.Tensor  # (Q, K) int64 reference columns, nearest by embedding first
    alignment_score: torch.Tensor  # (Q, K) in [0, 1]
    segments: dict[str, np.ndarray]  # each (Q, K), seconds (see `segment_seconds`)
    pitch_score: torch.Tensor | None = None  # (Q, K) in [0, 1]; None: the pitch stage is off
    pitch_segments: dict[str, np.ndarray] | None = None  # as `segments`, by the pitch path

    @property
    def located_segments(self) -> dict[str, np.ndarray]:
        """Where each pair matches, as the search answers it: by the pitch path when the pitch
        stage ran (its chroma frames are a few tenths of a second against the sequences' hop of
        seconds; on the default run's test works its starts are right for 0.69 of true pairs
        against 0.44, benchmarks/README.md section 8), else by the embedding path."""
        return self.segments if self.pitch_segments is None else self.pitch_segments

    def distances(self, fusion_weight: float, pitch_weight: float = 0.0) -> torch.Tensor:
        """`(Q, N)`: 1 - the fused score in the shortlist; 2 + the first-stage distance outside
        it, so the rest keeps its first-stage order behind every shortlisted reference. The
        pitch score, when there is one, takes `pitch_weight` of the fused score (`fuse`)."""
        out = self.embedding_distances + 2.0
        similarity = 1.0 - self.embedding_distances.gather(1, self.shortlist)
        fused = fuse(similarity, self.alignment_score, fusion_weight)
        if self.pitch_score is not None:
            fused = fuse(fused, self.pitch_score, pitch_weight)
        return out.scatter(1, self.shortlist, 1.0 - fused)


def rerank_matrix(
    embedding_distances: torch.Tensor,
    query_sequences: Sequence[torch.Tensor],
    ref_sequences: Sequence[torch.Tensor],
    settings: RerankSettings,
    exclude: torch.Tensor | None = None,
) -> Reranked:
    """Align each query with its `settings.k` nearest references (see the module doc).

    Args:
        embedding_distances: `(Q, N)` first-stage cosine distances (1 - similarity).
        query_sequences: Q sequences `(T_q, D)`; ref_sequences: N sequences `(T_r, D)`.
        exclude: `(Q, N)` bool, references never shortlisted (the query itself; in an open-set
            check, the works left out of the gallery). K is capped so no query runs short.
    """
    dist = torch.as_tensor(embedding_distances).float()
    assert dist.ndim == 2, f"embedding_distances must be (Q, N), got {tuple(dist.shape)}"
    n_q, n_r = dist.shape
    assert len(query_sequences) == n_q and len(ref_sequences) == n_r
    masked = dist if exclude is None else dist.masked_fill(exclude, float("inf"))
    allowed = n_r if exclude is None else int((~exclude).sum(1).min())
    k = max(1, min(settings.k, allowed))
    shortlist = masked.topk(k, dim=1, largest=False).indices  # (Q, K)
    scores, parts = [], []
    for q in range(n_q):
        found = align_candidates(
            query_sequences[q],
            [ref_sequences[j] for j in shortlist[q].tolist()],
            settings.match_threshold,
            settings.centre,
        )
        scores.append(found.score)
        parts.append(segment_seconds(found, settings.hop_s, settings.window_s))
    segments = {key: np.stack([part[key] for part in parts]) for key in parts[0]}
    return Reranked(dist, shortlist, torch.stack(scores), segments)


def sequences_from_table(table, perf_ids: Sequence[str]) -> list[torch.Tensor]:
    """The `(T, D)` sequence of each of `perf_ids` from a chunk table (`gallery_sequences`:
    perf_id, chunk_idx, embedding), in time order. A performance without rows is an error."""
    grouped = {
        perf_id: torch.as_tensor(np.stack(rows.sort_values("chunk_idx").embedding.to_numpy()))
        for perf_id, rows in table.groupby("perf_id", sort=False)
    }
    missing = [p for p in perf_ids if p not in grouped]
    if missing:
        raise ValueError(f"no re-rank sequence for {len(missing)} performances, e.g. {missing[:3]}")
    return [grouped[p].float() for p in perf_ids]
