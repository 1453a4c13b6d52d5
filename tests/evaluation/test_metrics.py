"""MIREX metrics against hand-worked rankings and a plain per-query sort."""

import numpy as np
import pytest
import torch

from coverhunter.evaluation.metrics import MIREX_KEYS, mirex_metrics, per_query_metrics


def test_relevant_at_ranks_one_and_three():
    # Query of work A; references ranked A, B, A, B.
    dist = torch.tensor([[0.1, 0.2, 0.3, 0.4]])
    m = per_query_metrics(dist, ["A"], ["A", "B", "A", "B"], ["q"], ["r1", "r2", "r3", "r4"])
    assert m.ap.tolist() == pytest.approx([(1 + 2 / 3) / 2])
    assert m.rank_first.tolist() == [1.0]
    assert m.hit_at_1.tolist() == [1.0]
    assert m.precision_at_10.tolist() == [0.2]
    summary = mirex_metrics(dist, ["A"], ["A", "B", "A", "B"], ["q"], ["r1", "r2", "r3", "r4"])
    assert tuple(summary) == MIREX_KEYS
    assert summary == pytest.approx(
        {"mAP": 5 / 6, "MR1": 1.0, "hit_rate": 1.0, "P@10": 0.2, "n_queries": 1}
    )


def test_ap_divides_by_all_relevant_not_by_hits_in_the_top_ten():
    # Relevant at ranks 1 and 12 of 12: AP = (1 + 2/12) / 2 (the authors' map.py would say 1).
    dist = torch.arange(12, dtype=torch.float64)[None, :]
    works = ["A"] + ["B"] * 10 + ["A"]
    m = per_query_metrics(dist, ["A"], works, ["q"], [f"r{i}" for i in range(12)])
    assert m.ap.tolist() == pytest.approx([(1 + 2 / 12) / 2])
    assert m.precision_at_10.tolist() == [0.1]


def test_query_itself_is_removed_from_its_candidates():
    # The query "q" is also a reference, at distance 0: it must be neither a hit nor ahead.
    dist = torch.tensor([[0.0, 0.2, 0.1, 0.3]])
    m = per_query_metrics(dist, ["A"], ["A", "A", "B", "A"], ["q"], ["q", "r1", "r2", "r3"])
    # Without q: r2 (B) at rank 1, r1 (A) rank 2, r3 (A) rank 3.
    assert m.ap.tolist() == pytest.approx([(1 / 2 + 2 / 3) / 2])
    assert m.rank_first.tolist() == [2.0]
    assert m.hit_at_1.tolist() == [0.0]
    assert m.n_relevant.tolist() == [2]


def test_prefix_perf_ids_are_not_taken_for_the_query():
    # "112" is not "12": it stays a relevant candidate.
    m = per_query_metrics(torch.tensor([[0.5]]), ["A"], ["A"], ["12"], ["112"])
    assert m.ap.tolist() == [1.0] and m.n_excluded == 0


def test_query_without_another_version_is_excluded_and_counted():
    dist = torch.tensor([[0.1, 0.2], [0.3, 0.1]])
    args = (dist, ["A", "C"], ["A", "B"], ["q1", "q2"], ["r1", "r2"])
    m = per_query_metrics(*args)
    assert m.excluded.tolist() == [False, True] and m.n_excluded == 1
    assert np.isnan(m.ap[1].item())
    assert mirex_metrics(*args)["n_queries"] == 1
    assert mirex_metrics(*args)["mAP"] == 1.0
    # Its only version being itself also excludes it.
    assert per_query_metrics(torch.tensor([[0.0]]), ["A"], ["A"], ["q"], ["q"]).n_excluded == 1


def test_ties_are_pessimistic():
    # All distances equal, one relevant listed first: it still ranks behind all 3 irrelevant.
    dist = torch.full((1, 4), 0.5)
    m = per_query_metrics(dist, ["A"], ["A", "B", "B", "B"], ["q"], ["r1", "r2", "r3", "r4"])
    assert m.rank_first.tolist() == [4.0]
    assert m.ap.tolist() == [0.25]
    assert m.hit_at_1.tolist() == [0.0]
    # Relevant tied with one irrelevant, after a nearer irrelevant: rank 3 (not 2).
    dist = torch.tensor([[0.2, 0.1, 0.2, 0.9]])
    m = per_query_metrics(dist, ["A"], ["A", "B", "B", "A"], ["q"], ["r1", "r2", "r3", "r4"])
    assert m.ap.tolist() == pytest.approx([(1 / 3 + 2 / 4) / 2])
    # Two tied relevant items: positions 1 and 2 in either order.
    dist = torch.tensor([[0.3, 0.3, 0.5]])
    m = per_query_metrics(dist, ["A"], ["A", "A", "B"], ["q"], ["r1", "r2", "r3"])
    assert m.ap.tolist() == [1.0]


def _plain_metrics(dist: np.ndarray, qw, rw, qp, rp):
    """One query at a time: drop self, sort by (distance, relevant last), read the ranking."""
    out = []
    for q in range(dist.shape[0]):
        keep = [r for r in range(dist.shape[1]) if rp[r] != qp[q]]
        rel = np.array([rw[r] == qw[q] for r in keep])
        if not rel.any():
            out.append(None)
            continue
        order = np.lexsort((rel, dist[q, keep]))  # pessimistic: irrelevant first among ties
        ranked = rel[order]
        ranks = np.flatnonzero(ranked) + 1
        ap = np.mean(np.arange(1, len(ranks) + 1) / ranks)
        out.append((ap, ranks[0], float(ranks[0] == 1), ranked[:10].sum() / 10))
    return out


def test_all_queries_at_once_equal_plain_per_query_sorting():
    rng = np.random.default_rng(0)
    n_ref = 40
    rw = [f"w{i}" for i in rng.integers(0, 8, n_ref)]
    rp = [f"p{i}" for i in range(n_ref)]
    # Queries: the first 25 references themselves plus 5 outside performances.
    qw = rw[:25] + [f"w{i}" for i in rng.integers(0, 10, 5)]
    qp = rp[:25] + [f"x{i}" for i in range(5)]
    dist = rng.integers(0, 6, (30, n_ref)) / 5.0  # coarse values: plenty of ties
    m = per_query_metrics(torch.tensor(dist), qw, rw, qp, rp, max_elements=64)  # many batches
    want = _plain_metrics(dist, qw, rw, qp, rp)
    for q, expected in enumerate(want):
        if expected is None:
            assert bool(m.excluded[q])
            continue
        got = (
            m.ap[q].item(),
            m.rank_first[q].item(),
            m.hit_at_1[q].item(),
            m.precision_at_10[q].item(),
        )
        assert got == pytest.approx(expected)
    assert m.n_excluded == sum(e is None for e in want)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        per_query_metrics(torch.tensor([[float("nan")]]), ["A"], ["A"], ["q"], ["r"])
    with pytest.raises(ValueError, match="work ids"):
        per_query_metrics(torch.zeros(2, 1), ["A"], ["A"], ["q", "q2"], ["r"])
    with pytest.raises(ValueError, match="no query"):
        mirex_metrics(torch.zeros(1, 1), ["A"], ["B"], ["q"], ["r"])
    with pytest.raises(ValueError, match="strings"):
        per_query_metrics(torch.zeros(1, 1), [1], ["1"], ["q"], ["r"])
