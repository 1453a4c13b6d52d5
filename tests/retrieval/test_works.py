"""Works ranked by their nearest performance, with where the match lies."""

import numpy as np
import pytest

from coverhunter.retrieval.index import TrackHits
from coverhunter.retrieval.works import rank_works, rank_works_reranked, shown_positions


def test_each_work_appears_once_at_its_nearest_performance():
    hits = TrackHits(
        perf_ids=np.array(["a1", "b1", "a2", "c1"]),
        distances=np.array([0.1, 0.2, 0.3, 0.5], dtype=np.float32),
        query_chunk=np.array([1, 0, 0, 1]),
        gallery_chunk=np.array([4, 0, 7, 9]),
        gallery_start_s=np.array([90.0, 0.0, 45.0, 45.0]),
    )
    work_of = {"a1": "A", "a2": "A", "b1": "B", "c1": "C"}
    table = rank_works(hits, work_of, np.array([0.0, 45.0]), top_works=2)
    assert table["rank"].tolist() == [1, 2]
    assert table.work_id.tolist() == ["A", "B"]
    assert table.perf_id.tolist() == ["a1", "b1"]
    np.testing.assert_allclose(table.score, [0.9, 0.8], atol=1e-6)
    assert table.query_start_s.tolist() == [45.0, 0.0]
    assert table.match_start_s.tolist() == [90.0, 0.0]
    with pytest.raises(ValueError, match="c1"):
        rank_works(hits, {"a1": "A", "a2": "A", "b1": "B"}, np.array([0.0, 45.0]), 3)


def test_after_the_rerank_each_work_is_shown_once_by_its_best_performance():
    perf_ids = np.array(["a1", "b1", "a2", "c1", "b2"])
    work_of = {"a1": "A", "a2": "A", "b1": "B", "b2": "B", "c1": "C"}
    fused = np.array([0.5, 0.9, 0.7, 0.7, 0.1])
    works = np.array([work_of[p] for p in perf_ids])
    # B by b1 (0.9); then A by a2 and C by c1 (0.7 both: the shortlist's order, a2 first)
    assert shown_positions(works, fused, 3).tolist() == [1, 2, 3]
    assert shown_positions(works, fused, 2).tolist() == [1, 2]
    keys = ("query_start_s", "query_end_s", "match_start_s", "match_end_s")
    segments = {key: np.arange(5.0) for key in keys}
    table = rank_works_reranked(perf_ids, work_of, fused, fused, fused, segments, 3)
    assert table.perf_id.tolist() == ["b1", "a2", "c1"] and table["rank"].tolist() == [1, 2, 3]
    assert table.match_start_s.tolist() == [1.0, 2.0, 3.0]  # each row its own place
