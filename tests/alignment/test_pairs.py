"""The aligned_pairs contract table, unaligned reasons and the alignment report."""

import json

import pandas as pd
import pytest
import torch

from coverhunter.alignment.match import align_collection
from coverhunter.alignment.pairs import (
    ALIGNED_PAIR_COLUMNS,
    REASON_NO_MATCH,
    REASON_TOO_FEW,
    aligned_pairs_table,
    alignment_report,
)

HOP_S = 7.5


def _results() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "work_id": ["w1", "w1", "w2", "w2"],
            "perf_a": ["a", "a", "c", "c"],
            "perf_b": ["b", "x", "d", "e"],
            "delta": [2, 0, -1, 1],
            "n_candidates": [4, 0, 3, 2],
            "n_matches": [3, 0, 2, 1],
            "similarity": [0.95, float("nan"), 0.93, 0.91],
            "first_idx_a": [1, -1, 4, -1],
            "first_idx_b": [3, -1, 3, -1],
            "aligned": [True, False, True, False],
        }
    )


def test_aligned_pairs_columns_and_seconds():
    pairs, unaligned = aligned_pairs_table(_results(), hop_s=HOP_S)
    assert tuple(pairs.columns) == ALIGNED_PAIR_COLUMNS
    assert pairs.values.tolist() == [
        ["w1", "a", "b", 7.5, 22.5, 15.0, 3, 0.95],
        ["w2", "c", "d", 30.0, 22.5, -7.5, 2, 0.93],
    ]
    # offset_s is consistent with the start columns.
    assert (pairs.start_b_s - pairs.start_a_s).tolist() == pairs.offset_s.tolist()
    assert unaligned.values.tolist() == [
        ["w1", "a", "x", 0, REASON_NO_MATCH],
        ["w2", "c", "e", 1, REASON_TOO_FEW],
    ]


def test_report_counts_and_offset_accuracy():
    pairs, unaligned = aligned_pairs_table(_results(), hop_s=HOP_S)
    manifest = pd.DataFrame(
        {
            "perf_id": ["a", "b", "c", "d", "e", "x"],
            # truth b - a = 10 s (found 15: error 5 <= 7.5); d - c = 5 s (found -7.5: error 12.5)
            "true_offset_s": [0.0, 10.0, 5.0, 10.0, 0.0, 0.0],
        }
    )
    report = alignment_report(pairs, unaligned, manifest, hop_s=HOP_S)
    assert report["pairs_tried"] == 4 and report["pairs_aligned"] == 2
    assert report["aligned_share"] == 0.5
    assert report["matches_per_pair_mean"] == 2.5 and report["matches_per_pair_median"] == 2.5
    assert report["unaligned_reasons"] == {REASON_NO_MATCH: 1, REASON_TOO_FEW: 1}
    assert report["offset_histogram"] == {"offset_s": [-7.5, 15.0], "count": [1, 1]}
    assert report["n_pairs_with_true_offset"] == 2
    assert report["offset_within_hop_share"] == 0.5
    assert report["offset_abs_error_mean_s"] == pytest.approx((5.0 + 12.5) / 2)
    json.dumps(report)  # the report is written as JSON


def test_report_without_truth_has_no_accuracy_keys():
    pairs, unaligned = aligned_pairs_table(_results(), hop_s=HOP_S)
    manifest = pd.DataFrame({"perf_id": ["a"], "work_id": ["w1"]})
    report = alignment_report(pairs, unaligned, manifest, hop_s=HOP_S)
    assert "offset_within_hop_share" not in report
    assert report == alignment_report(pairs, unaligned, None, hop_s=HOP_S)


def test_collection_with_known_preludes_end_to_end():
    # Three versions of one work: b has a 2-chunk prelude, c drops a's first chunk.
    gen = torch.Generator().manual_seed(3)
    base = torch.nn.functional.normalize(torch.randn(6, 16, generator=gen), dim=1)
    noise = torch.nn.functional.normalize(torch.randn(2, 16, generator=gen), dim=1)
    versions = {"a": base, "b": torch.cat([noise, base]), "c": base[1:]}
    table = pd.DataFrame(
        [(p, "w", i) for p, e in versions.items() for i in range(len(e))],
        columns=["perf_id", "work_id", "chunk_idx"],
    )
    results = align_collection(table, torch.cat(list(versions.values())))
    pairs, unaligned = aligned_pairs_table(results, hop_s=HOP_S)
    assert len(unaligned) == 0
    assert pairs[["perf_a", "perf_b", "start_a_s", "start_b_s", "offset_s"]].values.tolist() == [
        ["a", "b", 0.0, 15.0, 15.0],
        ["a", "c", 7.5, 0.0, -7.5],
        ["b", "c", 22.5, 0.0, -22.5],
    ]
    manifest = pd.DataFrame({"perf_id": ["a", "b", "c"], "true_offset_s": [0.0, 15.0, -7.5]})
    report = alignment_report(pairs, unaligned, manifest, hop_s=HOP_S)
    assert report["offset_within_hop_share"] == 1.0
    assert report["offset_abs_error_mean_s"] == 0.0
