"""Bootstrap intervals: seeded, paired across models, covering the mean, narrowing with queries."""

import pytest
import torch

from coverhunter.evaluation.bootstrap import Bootstrap, mean_interval
from coverhunter.evaluation.metrics import MIREX_KEYS, mirex_metrics


def test_interval_of_a_constant_is_that_constant():
    assert mean_interval(torch.full((7,), 0.25), Bootstrap(n_boot=50)) == [0.25, 0.25]


def test_interval_is_seeded_holds_the_mean_and_narrows_with_more_queries():
    values = torch.tensor([0.0, 1.0] * 10, dtype=torch.float64)
    low, high = mean_interval(values, Bootstrap(n_boot=2000, seed=3))
    assert mean_interval(values, Bootstrap(n_boot=2000, seed=3)) == [low, high]
    assert low < 0.5 < high
    # A mean of 20 fair coins: standard error 0.112, so about +-0.22 at 95%.
    assert high - low == pytest.approx(2 * 1.96 * 0.5 / 20**0.5, rel=0.15)
    wide = mean_interval(values[:4], Bootstrap(n_boot=2000, seed=3))
    assert wide[1] - wide[0] > high - low


def test_same_queries_are_resampled_alike_so_rows_compare_pairwise():
    # Model b is model a plus 0.1 on every query: the intervals move together by 0.1.
    a = torch.linspace(0.0, 0.8, 30, dtype=torch.float64)
    settings = Bootstrap(n_boot=500, seed=1)
    low_a, high_a = mean_interval(a, settings)
    low_b, high_b = mean_interval(a + 0.1, settings)
    assert (low_b - low_a, high_b - high_a) == pytest.approx((0.1, 0.1))


def test_every_mirex_figure_gets_an_interval_around_it():
    dist = torch.tensor([[0.1, 0.2, 0.3], [0.3, 0.1, 0.2], [0.2, 0.3, 0.1], [0.1, 0.3, 0.2]])
    args = (
        dist,
        ["A", "B", "A", "B"],
        ["A", "B", "A"],
        ["q1", "q2", "q3", "q4"],
        ["r1", "r2", "r3"],
    )
    plain = mirex_metrics(*args)
    assert list(plain) == list(MIREX_KEYS)
    row = mirex_metrics(*args, bootstrap=Bootstrap(n_boot=200, seed=0))
    assert list(row) == [*MIREX_KEYS, "ci95"]
    assert set(row["ci95"]) == {"mAP", "MR1", "hit_rate", "P@10"}
    for key, (low, high) in row["ci95"].items():
        assert low <= row[key] <= high
        assert row[key] == plain[key]


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="n_boot"):
        Bootstrap(n_boot=0)
    with pytest.raises(ValueError, match="level"):
        Bootstrap(level=1.0)
