"""Where two versions match, checked against the truth a collection records (`true_offset_s`).

A synthetic or rendered version starts its shared material `true_offset_s` into the recording
(after a prelude). The re-rank's aligned path names where the match starts in the query and in
the candidate; for a true pair (same work) it is right when each start lies within one hop of
that recording's `true_offset_s` (the path starts where the shared music does). The relative
check (the two starts' difference against the difference of the truths) is reported beside it:
a path that starts later in the shared music, in step in both, is right by that one.

Beside the share over every true pair of the shortlists, the same share over the true pairs the
search ranks first (`first`): where the answer a user reads matches. The two differ where true
pairs the model barely matches (a low alignment score, ranked low) are placed wrong: on the tests'
run every true pair ranked first starts within a hop, and the misses are all low-scoring pairs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def match_location_report(
    query_perf_ids: Sequence[str],
    candidate_perf_ids: np.ndarray,
    same_work: np.ndarray,
    segments: Mapping[str, np.ndarray],
    true_offset_s: Mapping[str, float],
    hop_s: float,
    first: np.ndarray | None = None,
) -> dict:
    """`n_pairs` (true pairs with a known offset in both), `start_within_hop_share`,
    `offset_within_hop_share`, `start_abs_error_mean_s`, `hop_s` (None where no pair); with
    `first`, `n_pairs_ranked_first` and `start_within_hop_share_ranked_first`: the same over
    the true pairs ranked first.

    Args:
        query_perf_ids: `(Q,)`; candidate_perf_ids, same_work: `(Q, K)` the shortlist.
        segments: `query_start_s`, `match_start_s`, each `(Q, K)` (`rerank.segment_seconds`).
        true_offset_s: where the shared material starts in each recording (NaN: unknown).
        first: `(Q, K)` bool, the pair each query ranks first (at most one a row).
    """
    query = np.repeat(np.asarray(query_perf_ids, dtype=object), same_work.shape[1])
    truth_q = np.array([true_offset_s.get(p, np.nan) for p in query], dtype=np.float64)
    truth_r = np.array(
        [true_offset_s.get(p, np.nan) for p in np.ravel(candidate_perf_ids)], dtype=np.float64
    )
    start_q = np.ravel(segments["query_start_s"]).astype(np.float64)
    start_r = np.ravel(segments["match_start_s"]).astype(np.float64)
    keep = np.ravel(same_work) & np.isfinite(truth_q) & np.isfinite(truth_r)
    ranked_first = {}
    if first is not None:
        assert np.shape(first) == np.shape(same_work), (np.shape(first), np.shape(same_work))
        on_top = keep & np.ravel(first)
        right = (np.abs(start_q - truth_q) <= hop_s) & (np.abs(start_r - truth_r) <= hop_s)
        ranked_first = {
            "n_pairs_ranked_first": int(on_top.sum()),
            "start_within_hop_share_ranked_first": (
                float(np.mean(right[on_top])) if on_top.any() else None
            ),
        }
    if not keep.any():
        return {
            "n_pairs": 0,
            "start_within_hop_share": None,
            "offset_within_hop_share": None,
            "start_abs_error_mean_s": None,
            "hop_s": hop_s,
            **ranked_first,
        }
    error_q = np.abs(start_q - truth_q)[keep]
    error_r = np.abs(start_r - truth_r)[keep]
    error_offset = np.abs((start_q - start_r) - (truth_q - truth_r))[keep]
    return {
        "n_pairs": int(keep.sum()),
        "start_within_hop_share": float(np.mean((error_q <= hop_s) & (error_r <= hop_s))),
        "offset_within_hop_share": float(np.mean(error_offset <= hop_s)),
        "start_abs_error_mean_s": float(np.mean((error_q + error_r) / 2)),
        "hop_s": float(hop_s),
        **ranked_first,
    }
