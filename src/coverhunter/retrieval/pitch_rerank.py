"""The re-rank's pitch stage: a Qmax-style alignment of chroma sequences with the shortlist.

The model's embeddings tell versions apart only as far as training taught them; where versions are
re-harmonised (same melody, other chords and accompaniment) a model trained on a few works does
not, while an alignment of the two recordings' pitch classes does (Serra et al. 2009). Qmax's
recipe, with the local alignment of `retrieval/rerank.py` (`local_alignment`), one candidate at
a time in compiled loops (`retrieval/alignment_kernel.py`):

1. each chroma sequence (`audio/chroma.py`, stored for the gallery at index time) averaged to a
   low frame rate, its frames scaled to unit length;
2. each candidate moved to the query's key by the optimal transposition index (the roll of its
   mean chroma that best matches the query's);
3. `stack` consecutive frames delay-embedded into one state (a state is a short phrase);
4. the states' cosine similarities binarised by mutual nearest neighbours: 1 where a pair is
   among the `kappa` share of the closest in its row (`kappa` times the candidate's states) and
   in its column (times the query's) (Qmax's cross-recurrence);
5. the local alignment of that 0/1 matrix with `match_threshold`: a match gains
   `1 - match_threshold`, a mismatch costs `match_threshold`.

The score is the best path's total gain over the most the query's states could gain (within one
query the order of the total gain, as Qmax's: a longer shared passage is more evidence). The path
also says where the two recordings match (`pitch_segment_seconds`): its first and last state in
each, on the chroma's own rate (a few frames a second), finer than the embedding sequences' hop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np
import pandas as pd
import torch

from coverhunter.audio.chroma import averaged_frames, cqt_chroma
from coverhunter.retrieval.alignment_kernel import (
    best_local_paths,
    kth_largest_of_columns,
    kth_largest_of_rows,
    marked_local_path,
    stacked_similarities,
)
from coverhunter.retrieval.rerank import Alignment, Reranked

__all__ = [
    "PitchSettings",
    "chroma_sequence",
    "chroma_table",
    "chromas_from_table",
    "pitch_alignment",
    "pitch_alignment_scores",
    "pitch_segment_seconds",
    "stacked_states",
    "transposition_indices",
    "with_pitch_scores",
]


@dataclass(frozen=True)
class PitchSettings:
    """The pitch stage (`rerank.pitch` in conf/base/parameters_indexing.yml): `enabled`; `weight`
    the pitch score's share of the final score when no validation works choose it; `source`
    `cqt` (`audio/chroma.py`'s chroma of the stored CQT) or `hpcp` (the HPCP of the
    audio, `serving/chroma.py`); `chroma` that function's settings and `average_frames` its
    frames averaged into one;
    `stack` frames a state, `kappa` the share of closest pairs kept per row and column (0:
    cosine similarities as they are), `match_threshold` the cost of a mismatch; `locate`: other
    `kappa` and `match_threshold` for a second alignment that only says where pairs match
    (`locating`; empty: the scoring alignment's path says it); `prescreen`: `keep`, `factor`,
    `stack`, `kappa` of a first, cheaper alignment of every candidate at `factor` times fewer
    frames, after which only its `keep` best are aligned in full (`screened`; empty: every
    candidate in full)."""

    enabled: bool = False
    weight: float = 0.5
    source: str = "cqt"
    chroma: Mapping = field(default_factory=dict)
    average_frames: int = 6
    stack: int = 8
    kappa: float = 0.1
    match_threshold: float = 0.33
    locate: Mapping = field(default_factory=dict)
    prescreen: Mapping = field(default_factory=dict)

    def __post_init__(self):
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"rerank pitch weight must lie in [0, 1], got {self.weight}")
        if self.source not in ("cqt", "hpcp"):
            raise ValueError(f"rerank pitch source must be cqt or hpcp, got {self.source!r}")
        if self.average_frames < 1 or self.stack < 1:
            raise ValueError(f"rerank pitch average_frames and stack must be >= 1, got {self}")
        if not 0.0 <= self.kappa <= 1.0:
            raise ValueError(f"rerank pitch kappa must lie in [0, 1], got {self.kappa}")
        if not 0.0 < self.match_threshold < 1.0:
            raise ValueError(f"rerank pitch match_threshold must lie in (0, 1), got {self}")
        if unknown := set(self.locate) - {"kappa", "match_threshold"}:
            raise ValueError(
                f"rerank pitch locate takes kappa and match_threshold, not {sorted(unknown)}"
            )
        if unknown := set(self.prescreen) - {"keep", "factor", "stack", "kappa"}:
            raise ValueError(
                f"rerank pitch prescreen takes keep, factor, stack and kappa, not {sorted(unknown)}"
            )
        if self.prescreen and (
            int(self.prescreen.get("keep", 0)) < 1 or int(self.prescreen.get("factor", 2)) < 1
        ):
            raise ValueError(f"rerank pitch prescreen needs keep >= 1 and factor >= 1, got {self}")

    @classmethod
    def of(cls, params: Mapping | None) -> PitchSettings:
        """From `rerank.pitch` (None or absent: off)."""
        return cls(**(params or {}))

    def locating(self) -> PitchSettings | None:
        """The settings of the alignment that says where pairs match: these with `locate`'s
        overrides; None when `locate` overrides nothing (the scoring path says it). A sparser
        binarisation scores better and a denser one places better (benchmarks/README.md
        section 8), hence two."""
        changed = {key: value for key, value in self.locate.items() if getattr(self, key) != value}
        # the pairs placed are few (identify's answers, or true pairs): each aligned in full
        return replace(self, locate={}, prescreen={}, **changed) if changed else None

    def screened(self) -> tuple[PitchSettings, int, int] | None:
        """The prescreen's alignment (at `factor` times fewer frames: `stack` and `kappa` its
        own, default half the stack and 0.1), its `factor` and how many candidates it keeps;
        None without a prescreen."""
        if not self.prescreen:
            return None
        factor = int(self.prescreen.get("factor", 2))
        coarse = replace(
            self,
            average_frames=self.average_frames * factor,
            stack=int(self.prescreen.get("stack", max(1, self.stack // factor))),
            kappa=float(self.prescreen.get("kappa", 0.1)),
            prescreen={},
        )
        return coarse, factor, int(self.prescreen["keep"])

    def frame_s(self, sample_rate: int, cqt_frame_rate: float) -> float:
        """Seconds between two frames of the chroma sequence: the source's hop (HPCP's
        `hop_size` samples at `sample_rate` for `hpcp`, a CQT frame for `cqt`) times
        `average_frames`."""
        if self.source == "hpcp":
            hop = self.chroma.get("hop_size", _HPCP_HOP_SIZE)
            return float(hop) / sample_rate * self.average_frames
        return self.average_frames / float(cqt_frame_rate)


# evaluation/qmax.py hpcp_features' default hop, where `rerank.pitch.chroma` names none
_HPCP_HOP_SIZE = 2048


def chroma_sequence(log_cqt: np.ndarray, settings: PitchSettings) -> torch.Tensor:
    """`(T, F)` log-CQT -> the `(T // average_frames, 12)` chroma the pitch stage aligns (source
    `cqt`: the gallery's stored at index time, a query's at query time, by this function)."""
    assert settings.source == "cqt", (
        f"chroma_sequence makes the cqt source's, not {settings.source}"
    )
    chroma = cqt_chroma(log_cqt, **settings.chroma)
    return torch.from_numpy(averaged_frames(chroma, settings.average_frames))


def transposition_indices(query: torch.Tensor, candidates: Sequence[torch.Tensor]) -> torch.Tensor:
    """`(B,)` the roll along pitch class that takes each candidate `(T_b, 12)` to the query's
    `(Tq, 12)` key: the one whose mean chroma best matches the query's (the optimal
    transposition index; the smallest roll on a tie)."""
    assert query.ndim == 2, f"query must be (Tq, 12), got {tuple(query.shape)}"
    target = torch.nn.functional.normalize(query.float().mean(0), dim=0)
    means = torch.stack([chroma.float().mean(0) for chroma in candidates])
    means = torch.nn.functional.normalize(means, dim=1)
    rolled = torch.stack([torch.roll(means, k, dims=1) for k in range(means.shape[1])])
    return (rolled @ target).argmax(0)  # (12, B) -> (B,)


def stacked_states(chroma: torch.Tensor, stack: int) -> torch.Tensor:
    """`(T, 12)` -> `(max(T - stack + 1, 1), 12 * stack)` unit rows, each `stack` frames long
    (a sequence shorter than `stack` is one state of its frames, zero-filled): what the
    alignment compares. `pitch_alignment` computes their cosine similarities without making
    them (`alignment_kernel.stacked_similarities`)."""
    assert chroma.ndim == 2, f"chroma must be (T, 12), got {tuple(chroma.shape)}"
    unit = torch.nn.functional.normalize(chroma.float(), dim=1)
    if len(unit) < stack:
        unit = torch.cat([unit, unit.new_zeros(stack - len(unit), unit.shape[1])])
    states = torch.cat([unit[i : len(unit) - stack + 1 + i] for i in range(stack)], dim=1)
    return torch.nn.functional.normalize(states, dim=1)


def pitch_alignment(
    query: torch.Tensor, candidates: Sequence[torch.Tensor], settings: PitchSettings
) -> Alignment:
    """The best local path of the query's chroma `(Tq, 12)` with each candidate's `(T_b, 12)`
    (both `chroma_sequence`s; see the module doc), `(B,)` each: the score, the path's total gain
    over the most the query's states could gain, in [0, 1] (within one query the order of the
    total gain, as Qmax's; across queries, a share of the query); its first and last state in
    the query and in the candidate.

    One candidate at a time, the `(Tq, T_b)` similarities (3.5 MB for two 4-minute recordings)
    made, binarised and aligned while they are in cache. The states' cosine similarities are
    sums along the diagonals of the frames' (`stacked_states`' product, with `stack` times fewer
    multiplications)."""
    assert len(candidates) > 0, "no candidates to align"
    screening = settings.screened()
    if screening is not None and len(candidates) > screening[2]:
        return _screened_alignment(query, candidates, settings, *screening)
    stack = settings.stack
    query_frames = torch.nn.functional.normalize(query.float(), dim=1)
    # every candidate in the query's key and scaled to unit frames at once, then one by one
    lengths = [len(chroma) for chroma in candidates]
    shifts = transposition_indices(query, candidates).repeat_interleave(torch.tensor(lengths))
    frames = torch.nn.functional.normalize(torch.cat([c.float() for c in candidates]), dim=1)
    roll = (torch.arange(frames.shape[1])[None, :] - shifts[:, None]) % frames.shape[1]
    ref_frames = frames.gather(1, roll).split(lengths)
    present = (frames.abs().sum(1) > 0).float().numpy()  # a zero frame (silence) counts 0
    ref_present = np.split(present, np.cumsum(lengths)[:-1])
    query_present = (query_frames.abs().sum(1) > 0).float().numpy()
    # one pair's frame and state similarities, in two buffers every pair
    # reuses: fresh arrays of this size cost more in page faults than the alignment itself
    size = max(len(query_frames), stack) * max(*lengths, stack)
    buffers = torch.empty(size), torch.empty(size)
    found = [
        _aligned(query_frames, query_present, ref, present, settings, buffers)
        for ref, present in zip(ref_frames, ref_present, strict=True)
    ]
    score, query_first, query_last, ref_first, ref_last = zip(*found, strict=True)
    return Alignment(
        score=torch.tensor(score, dtype=torch.float32),
        query_first=torch.tensor(query_first, dtype=torch.long),
        query_last=torch.tensor(query_last, dtype=torch.long),
        ref_first=torch.tensor(ref_first, dtype=torch.long),
        ref_last=torch.tensor(ref_last, dtype=torch.long),
    )


def _screened_alignment(
    query: torch.Tensor,
    candidates: Sequence[torch.Tensor],
    settings: PitchSettings,
    coarse: PitchSettings,
    factor: int,
    keep: int,
) -> Alignment:
    """`pitch_alignment` with a prescreen: every candidate aligned at `factor` times fewer
    frames (`coarse`), the `keep` best of that aligned in full. The others keep their order by
    the coarse score, scaled below the lowest full score kept (the prescreen ranked them lower),
    and the coarse path's ends in full frames."""
    first = pitch_alignment(
        _fewer_frames(query, factor), [_fewer_frames(c, factor) for c in candidates], coarse
    )
    kept = torch.argsort(-first.score, stable=True)[:keep]
    full = pitch_alignment(
        query, [candidates[i] for i in kept.tolist()], replace(settings, prescreen={})
    )
    found = {f.name: getattr(first, f.name).clone() for f in fields(Alignment)}
    # the others below the lowest kept, in the prescreen's order (a clamp would tie them)
    highest_other = found["score"].max().clamp(min=1e-12)
    found["score"] = found["score"] / highest_other * full.score.min() * (1.0 - 1e-3)
    for name in ("query_first", "query_last", "ref_first", "ref_last"):
        found[name] *= factor
    for name, values in found.items():
        values[kept] = getattr(full, name)
    return Alignment(**found)


def _fewer_frames(chroma: torch.Tensor, factor: int) -> torch.Tensor:
    """`(T, 12)` -> `(max(T // factor, 1), 12)`: `averaged_frames`, and a sequence shorter than
    `factor` frames the mean of all (one frame, not none)."""
    if len(chroma) < factor:
        return chroma.float().mean(0, keepdim=True)
    return torch.from_numpy(averaged_frames(chroma.float().numpy(), factor))


def _aligned(
    query_frames: torch.Tensor,
    query_present: np.ndarray,
    ref_frames: torch.Tensor,
    ref_present: np.ndarray,
    settings: PitchSettings,
    buffers: tuple[torch.Tensor, torch.Tensor],
) -> tuple[float, int, int, int, int]:
    """One pair's `pitch_alignment`: score, query_first, query_last, ref_first, ref_last. With
    `kappa`, a cell is a match where it is among the `kappa` share of the closest of its row
    (`int(kappa * T_b)`, at least one) and of its column (`int(kappa * Tq)`); without, the
    similarities less `match_threshold` are the gains. `buffers`: two float32 tensors of at
    least max(Tq, stack) * max(T_b, stack) values, written over."""
    threshold = settings.match_threshold
    stack = settings.stack
    tq, tr = max(len(query_frames) - stack + 1, 1), max(len(ref_frames) - stack + 1, 1)
    # the frames' cosine similarities by torch, which keeps to the threads the process allows
    # (numpy's BLAS would start its own), then the states' from them
    frame_sim = buffers[0][: len(query_frames) * len(ref_frames)]
    frame_sim = torch.mm(query_frames, ref_frames.T, out=frame_sim.view(len(query_frames), -1))
    sim = buffers[1][: tq * tr].numpy().reshape(tq, tr)
    stacked_similarities(frame_sim.numpy(), query_present, ref_present, stack, sim)
    if settings.kappa:
        row_floor = kth_largest_of_rows(sim, max(1, int(settings.kappa * tr)))
        # the frames' buffer is free now: it takes the columns' transposed copy
        col_floor = kth_largest_of_columns(
            sim, max(1, int(settings.kappa * tq)), buffers[0].numpy()
        )
        top, *ends = marked_local_path(sim, row_floor, col_floor, 1.0 - threshold, -threshold)
    else:
        found = best_local_paths(
            (sim - threshold)[None], np.array([tq], np.int64), np.array([tr], np.int64)
        )
        top, *ends = (part[0] for part in found)
    # the total gain over the most the query's states could gain (a share of the query)
    score = min(float(top) / (1.0 - threshold), float(min(tq, tr))) / tq
    return (score, *(int(end) for end in ends))


def pitch_alignment_scores(
    query: torch.Tensor, candidates: Sequence[torch.Tensor], settings: PitchSettings
) -> torch.Tensor:
    """`(B,)` the scores of `pitch_alignment` alone."""
    return pitch_alignment(query, candidates, settings).score


def pitch_segment_seconds(
    alignment: Alignment, frame_s: float, settings: PitchSettings
) -> dict[str, np.ndarray]:
    """Where the pitch path says the two recordings match, in seconds (`frame_s` between two
    chroma frames, `PitchSettings.frame_s`): its first state's start to its last state's end
    (a state is `stack` frames), in the query and in the candidate; the keys of
    `rerank.segment_seconds`."""
    end = settings.stack * frame_s
    return {
        "query_start_s": alignment.query_first.numpy() * frame_s,
        "query_end_s": alignment.query_last.numpy() * frame_s + end,
        "match_start_s": alignment.ref_first.numpy() * frame_s,
        "match_end_s": alignment.ref_last.numpy() * frame_s + end,
    }


def with_pitch_scores(
    ranked: Reranked,
    query_chromas: Sequence[torch.Tensor],
    ref_chromas: Sequence[torch.Tensor],
    settings: PitchSettings,
    frame_s: float | None = None,
) -> Reranked:
    """`ranked` with the pitch alignment's score of each query's shortlisted references
    (`pitch_score`, `(Q, K)`) and, given `frame_s` (seconds a chroma frame), where each pair
    matches by the pitch path (`pitch_segments`, each `(Q, K)`, `pitch_segment_seconds`; by a
    second alignment where `settings.locating()` says so). The chromas are in the order of
    `ranked`'s rows and columns."""
    assert len(query_chromas) == ranked.shortlist.shape[0]
    pairs = [
        (query, [ref_chromas[j] for j in row.tolist()])
        for query, row in zip(query_chromas, ranked.shortlist, strict=True)
    ]
    found = [pitch_alignment(query, refs, settings) for query, refs in pairs]
    scores = torch.stack([alignment.score for alignment in found])
    if frame_s is None:
        return replace(ranked, pitch_score=scores)
    locating = settings.locating()
    if locating is not None:
        found = [pitch_alignment(query, refs, locating) for query, refs in pairs]
    parts = [pitch_segment_seconds(alignment, frame_s, settings) for alignment in found]
    segments = {key: np.stack([part[key] for part in parts]) for key in parts[0]}
    return replace(ranked, pitch_score=scores, pitch_segments=segments)


def chroma_table(
    perf_ids: Sequence[str], work_ids: Sequence[str], chromas: Sequence[torch.Tensor]
) -> pd.DataFrame:
    """One row per performance: perf_id, work_id, n_frames, chroma (its `(n_frames, 12)` chroma
    sequence, flattened row by row)."""
    return pd.DataFrame(
        {
            "perf_id": list(perf_ids),
            "work_id": list(work_ids),
            "n_frames": [len(c) for c in chromas],
            "chroma": [np.asarray(c, dtype=np.float32).reshape(-1) for c in chromas],
        }
    )


def chromas_from_table(table: pd.DataFrame, perf_ids: Sequence[str]) -> list[torch.Tensor]:
    """The `(T, 12)` chroma sequence of each of `perf_ids` from a `chroma_table`. A performance
    without a row is an error."""
    rows = table.set_index("perf_id")
    missing = [p for p in perf_ids if p not in rows.index]
    if missing:
        raise ValueError(f"no chroma sequence for {len(missing)} performances, e.g. {missing[:3]}")
    return [
        torch.from_numpy(np.array(rows.chroma[p], dtype=np.float32).reshape(-1, 12))
        for p in perf_ids
    ]
