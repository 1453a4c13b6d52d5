"""Calibrated decision: thresholds at a false-accept rate, the fusion weight chosen by mAP, and the
open-set and match-location reports against hand-built cases."""

import numpy as np
import pytest
import torch

from coverhunter.evaluation.bootstrap import Bootstrap
from coverhunter.evaluation.calibration import (
    best_fusion_weight,
    best_scores,
    decide,
    fit_thresholds,
    threshold_at,
)
from coverhunter.evaluation.match_location import match_location_report
from coverhunter.evaluation.open_set import held_out_works, open_set_exclusion, open_set_report
from coverhunter.retrieval.rerank import Reranked


def test_threshold_lets_through_at_most_the_stated_share_of_impostors():
    impostors = torch.arange(100, dtype=torch.float64) / 100  # 0.00 .. 0.99
    t = threshold_at(impostors, 0.01)
    assert (impostors >= t).double().mean() <= 0.01
    assert 0.98 < t <= 0.99  # exactly one impostor (0.99) may pass
    t = threshold_at(impostors, 0.05)
    assert (impostors >= t).sum() == 5
    # Fewer impostors than 1 / far: nothing may pass, the threshold sits just above the highest.
    few = torch.tensor([0.2, 0.7, 0.4], dtype=torch.float64)
    t = threshold_at(few, 0.01)
    assert t > 0.7 and not decide(0.7, t) and decide(0.71, t)
    fitted = fit_thresholds(few, [0.01, 0.001])
    assert set(fitted) == {"far_0.01", "far_0.001"}
    assert fitted["far_0.01"]["n_impostors"] == 3
    with pytest.raises(ValueError, match="false-accept rate"):
        threshold_at(few, 0.0)


def test_without_a_threshold_every_answer_is_a_yes():
    assert decide(-1.0, None)


def test_best_score_skips_excluded_columns():
    dist = torch.tensor([[0.0, 0.3, 0.1], [0.2, 0.0, 0.5]])
    score, column = best_scores(dist, torch.eye(3, dtype=torch.bool)[:2])
    assert score.tolist() == pytest.approx([0.9, 0.8]) and column.tolist() == [2, 0]


def test_the_weight_with_the_best_map_is_chosen_ties_to_the_smaller():
    # Two works of two performances. By embedding each query's nearest is the wrong work; the
    # alignment scores the right one 1, the wrong one 0: from weight 0.25 on every query ranks
    # its version first (a1: b1 0.75 * 0.7 = 0.525 against a2 0.75 * 0.6 + 0.25 = 0.7).
    dist = torch.tensor(
        [[0.0, 0.4, 0.3, 0.9], [0.4, 0.0, 0.9, 0.3], [0.3, 0.9, 0.0, 0.4], [0.9, 0.3, 0.4, 0.0]]
    )
    shortlist = torch.tensor([[2, 1], [3, 0], [0, 3], [1, 2]])
    works = ["A", "A", "B", "B"]
    same = torch.tensor([[works[q] == works[c] for c in row] for q, row in enumerate(shortlist)])
    ranked = Reranked(dist, shortlist, same.float(), {})
    weight, by_weight = best_fusion_weight(
        ranked, works, ["a1", "a2", "b1", "b2"], [0, 0.25, 1, 0.5]
    )
    assert by_weight[0.0] == pytest.approx(0.5) and by_weight[1.0] == 1.0
    assert by_weight[0.25] == by_weight[0.5] == 1.0
    assert weight == 0.25


def test_open_set_counts_left_out_queries_accepted_and_known_ones_answered_right():
    works = ["A", "A", "B", "B", "C", "C"]
    perf_ids = ["a1", "a2", "b1", "b2", "c1", "c2"]
    score = np.array(
        [  # similarity of every pair; C is left out of the gallery
            [1.0, 0.9, 0.2, 0.1, 0.3, 0.3],
            [0.9, 1.0, 0.2, 0.4, 0.3, 0.3],
            [0.2, 0.2, 1.0, 0.3, 0.3, 0.3],  # b1's best is a1/a2 at 0.2, b2 at 0.3: right
            [0.1, 0.6, 0.3, 1.0, 0.3, 0.3],  # b2's best is a2 (0.6): wrong work
            [0.85, 0.1, 0.1, 0.1, 1.0, 0.9],  # c1 (left out) looks like a1: a false accept at 0.8
            [0.1, 0.1, 0.1, 0.1, 0.9, 1.0],
        ]
    )
    assert held_out_works(works, 0.3, seed=0) in (["A"], ["B"], ["C"])
    exclude = open_set_exclusion(works, perf_ids, ["C"])
    assert exclude[0].tolist() == [True, False, False, False, True, True]
    thresholds = {
        "far_0.1": {"far": 0.1, "threshold": 0.8},
        "far_0.5": {"far": 0.5, "threshold": 0.25},
    }
    report = open_set_report(
        torch.as_tensor(1.0 - score), works, perf_ids, ["C"], thresholds, Bootstrap(n_boot=50)
    )
    high, low = report["thresholds"]["far_0.1"], report["thresholds"]["far_0.5"]
    assert high["false_accept"]["share"] == 0.5 and high["false_accept"]["n"] == 2
    assert high["true_accept"]["share"] == 0.5  # a1, a2 accepted right; b1 (0.3), b2 wrong
    assert low["false_accept"]["share"] == 0.5
    assert low["true_accept"]["share"] == 0.75  # a1, a2, b1 right; b2 accepted but wrong
    low_ci = low["true_accept"]["ci95"]
    assert low_ci[0] <= 0.75 <= low_ci[1]
    assert report["held_out_works"] == ["C"]


def test_match_location_is_right_within_one_hop_of_the_truth():
    segments = {
        "query_start_s": np.array([[3.5, 0.0]]),
        "match_start_s": np.array([[2.0, 9.0]]),
    }
    truth = {"q": 3.0, "r1": 2.5, "r2": 0.0}
    report = match_location_report(
        ["q"], np.array([["r1", "r2"]]), np.array([[True, True]]), segments, truth, hop_s=1.0
    )
    # r1: starts 3.5 vs 3 and 2 vs 2.5: right. r2: 0 vs 3 and 9 vs 0: wrong.
    assert report["n_pairs"] == 2 and report["start_within_hop_share"] == 0.5
    # Relative: r1 1.5 apart against 0.5 (within 1 s); r2 -9 against 3.
    assert report["offset_within_hop_share"] == 0.5
    assert report["start_abs_error_mean_s"] == pytest.approx(((0.5 + 0.5) / 2 + (3 + 9) / 2) / 2)
    assert "start_within_hop_share_ranked_first" not in report  # no ranking given


def test_match_location_of_the_pairs_ranked_first():
    segments = {
        "query_start_s": np.array([[3.5, 0.0, 0.0], [0.0, 0.0, 9.0]]),
        "match_start_s": np.array([[2.0, 9.0, 0.0], [0.0, 5.0, 0.0]]),
    }
    truth = {"q1": 3.0, "q2": 0.0, "r1": 2.5, "r2": 0.0, "x": 0.0}
    same = np.array([[True, True, False], [True, True, True]])
    first = np.array([[False, True, False], [True, False, False]])
    candidates = np.array([["r1", "r2", "x"], ["r1", "r2", "x"]])
    report = match_location_report(["q1", "q2"], candidates, same, segments, truth, 1.0, first)
    # ranked first: q1-r2 (0 vs 3: wrong), q2-r1 (0 vs 0, 0 vs 2.5: wrong): 0 of 2
    assert report["n_pairs_ranked_first"] == 2
    assert report["start_within_hop_share_ranked_first"] == 0.0
    first = np.array([[True, False, False], [False, False, True]])
    report = match_location_report(["q1", "q2"], candidates, same, segments, truth, 1.0, first)
    # q1-r1 right; q2-x (9 vs 0) wrong
    assert report["start_within_hop_share_ranked_first"] == 0.5
    assert report["n_pairs"] == 5  # every true pair, whatever is ranked first
