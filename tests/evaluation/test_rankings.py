"""Per-query ranking tables: nearest first, the query itself and unreached references left out."""

import math

import numpy as np
import pytest

from coverhunter.evaluation.rankings import RANKING_COLUMNS, ranking_table


def test_rankings_by_hand():
    perf = ["a1", "a2", "b1"]
    work = ["A", "A", "B"]
    distances = np.array(
        [
            [0.0, 0.4, 0.2],  # a1: b1 then a2 (itself left out although it is nearest)
            [0.4, 0.0, 0.4],  # a2: tie between a1 and b1 goes to the smaller perf_id
            [0.2, math.inf, 0.0],  # b1: a2 was not reached
        ]
    )
    starts = np.arange(9.0).reshape(3, 3)
    table = ranking_table(distances, perf, work, perf, work, top_n=5, extra={"ref_start_s": starts})
    assert list(table.columns) == [*RANKING_COLUMNS, "ref_start_s"]
    rows = list(
        table[["query_perf_id", "rank", "ref_perf_id", "same_work"]].itertuples(
            index=False, name=None
        )
    )
    assert rows == [
        ("a1", 1, "b1", False),
        ("a1", 2, "a2", True),
        ("a2", 1, "a1", True),
        ("a2", 2, "b1", False),
        ("b1", 1, "a1", False),
    ]
    assert table.distance.tolist() == [0.2, 0.4, 0.4, 0.4, 0.2]
    assert table.ref_start_s.tolist() == [2.0, 1.0, 3.0, 5.0, 6.0]
    top1 = ranking_table(distances, perf, work, perf, work, top_n=1)
    assert top1.ref_perf_id.tolist() == ["b1", "a1", "a1"]
    with pytest.raises(ValueError, match="top_n"):
        ranking_table(distances, perf, work, perf, work, top_n=0)
