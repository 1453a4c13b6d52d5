"""The `aligned_pairs` contract table, the unaligned pairs beside it, and the alignment report.

`aligned_pairs` (read by fine training and by outside tools) has exactly the columns
`ALIGNED_PAIR_COLUMNS`. Times come from chunk indices on the coarse chunk hop:
`start_a_s = first_idx_a * hop_s`, `start_b_s = first_idx_b * hop_s` (the first aligned chunk
pair) and `offset_s = delta * hop_s`, which equals `start_b_s - start_a_s`: content at `t` in
`perf_a` is found at `t + offset_s` in `perf_b`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ALIGNED_PAIR_COLUMNS = (
    "work_id",
    "perf_a",
    "perf_b",
    "start_a_s",
    "start_b_s",
    "offset_s",
    "n_matches",
    "similarity",
)
UNALIGNED_PAIR_COLUMNS = ("work_id", "perf_a", "perf_b", "n_matches", "reason")
REASON_NO_MATCH = "no_match_above_threshold"
REASON_TOO_FEW = "fewer_than_min_matches"


def aligned_pairs_table(
    pair_results: pd.DataFrame, hop_s: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split `align_collection` output into `(aligned_pairs, unaligned_pairs)`.

    `hop_s` is the hop between chunk starts, in seconds, of the chunks that were aligned.
    An unaligned pair's `reason` is `REASON_NO_MATCH` (no chunk pair above the threshold) or
    `REASON_TOO_FEW` (matches, but fewer than `min_matches` at the mode offset).
    """
    if hop_s <= 0:
        raise ValueError(f"hop_s must be positive, got {hop_s}")
    aligned = pair_results[pair_results["aligned"].astype(bool)]
    pairs = pd.DataFrame(
        {
            "work_id": aligned["work_id"].astype(str),
            "perf_a": aligned["perf_a"].astype(str),
            "perf_b": aligned["perf_b"].astype(str),
            "start_a_s": aligned["first_idx_a"].to_numpy(dtype=np.float64) * hop_s,
            "start_b_s": aligned["first_idx_b"].to_numpy(dtype=np.float64) * hop_s,
            "offset_s": aligned["delta"].to_numpy(dtype=np.float64) * hop_s,
            "n_matches": aligned["n_matches"].to_numpy(dtype=np.int64),
            "similarity": aligned["similarity"].to_numpy(dtype=np.float64),
        },
        columns=list(ALIGNED_PAIR_COLUMNS),
    ).reset_index(drop=True)
    rest = pair_results[~pair_results["aligned"].astype(bool)]
    unaligned = pd.DataFrame(
        {
            "work_id": rest["work_id"].astype(str),
            "perf_a": rest["perf_a"].astype(str),
            "perf_b": rest["perf_b"].astype(str),
            "n_matches": rest["n_matches"].to_numpy(dtype=np.int64),
            "reason": np.where(
                rest["n_candidates"].to_numpy() == 0, REASON_NO_MATCH, REASON_TOO_FEW
            ),
        },
        columns=list(UNALIGNED_PAIR_COLUMNS),
    ).reset_index(drop=True)
    return pairs, unaligned


def _offset_accuracy(pairs: pd.DataFrame, manifest: pd.DataFrame, hop_s: float) -> dict:
    """Share of aligned pairs whose offset is within one hop of `true_offset_s[b] - [a]`."""
    truth = manifest.set_index("perf_id")["true_offset_s"]
    if not truth.index.is_unique:
        raise ValueError("manifest perf_id values repeat")
    true_a = pairs["perf_a"].map(truth)
    true_b = pairs["perf_b"].map(truth)
    error = (pairs["offset_s"] - (true_b - true_a)).abs().dropna()
    return {
        "n_pairs_with_true_offset": int(len(error)),
        "offset_within_hop_share": float((error <= hop_s).mean()) if len(error) else None,
        "offset_abs_error_mean_s": float(error.mean()) if len(error) else None,
    }


def alignment_report(
    pairs: pd.DataFrame,
    unaligned: pd.DataFrame,
    manifest: pd.DataFrame | None,
    hop_s: float,
) -> dict:
    """A JSON-ready summary of one alignment run.

    Keys: `pairs_tried`, `pairs_aligned`, `aligned_share`, `matches_per_pair_mean`/`_median`
    (aligned pairs), `unaligned_reasons` (count per reason), `offset_histogram`
    (`{"offset_s": [...], "count": [...]}`, sorted by offset) and, when `manifest` has a
    `true_offset_s` column, `n_pairs_with_true_offset`, `offset_within_hop_share` (|found - true|
    <= `hop_s`) and `offset_abs_error_mean_s`.
    """
    tried = len(pairs) + len(unaligned)
    offsets, counts = np.unique(pairs["offset_s"].to_numpy(dtype=np.float64), return_counts=True)
    report = {
        "pairs_tried": int(tried),
        "pairs_aligned": int(len(pairs)),
        "aligned_share": float(len(pairs) / tried) if tried else None,
        "matches_per_pair_mean": float(pairs["n_matches"].mean()) if len(pairs) else None,
        "matches_per_pair_median": float(pairs["n_matches"].median()) if len(pairs) else None,
        "unaligned_reasons": {
            str(k): int(v) for k, v in unaligned["reason"].value_counts().items()
        },
        "offset_histogram": {
            "offset_s": [float(o) for o in offsets],
            "count": [int(c) for c in counts],
        },
    }
    if manifest is not None and "true_offset_s" in manifest.columns:
        report.update(_offset_accuracy(pairs, manifest, hop_s))
    return report
