"""Bootstrap 95% intervals of the MIREX figures over queries, so two rows can be compared.

Each figure is a mean over queries; resampling the queries with replacement `n_boot` times and
taking the 2.5th and 97.5th percentiles of the resampled means gives its percentile interval.
The resampled query sets depend only on the seed and the number of queries, so two models scored
on the same queries are resampled identically (a paired bootstrap: their intervals are read
against each other, not against luck in the draw).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# The per-query figures of `QueryMetrics` behind each MIREX key (n_queries has no interval).
FIGURES = {"mAP": "ap", "MR1": "rank_first", "hit_rate": "hit_at_1", "P@10": "precision_at_10"}


@dataclass(frozen=True)
class Bootstrap:
    """`n_boot` resamples of the queries, seeded; `level` the interval's coverage."""

    n_boot: int = 1000
    seed: int = 0
    level: float = 0.95

    def __post_init__(self):
        if self.n_boot < 1:
            raise ValueError(f"bootstrap n_boot must be at least 1, got {self.n_boot}")
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"bootstrap level must lie in (0, 1), got {self.level}")


def mean_interval(values: torch.Tensor, bootstrap: Bootstrap) -> list[float]:
    """`[low, high]`: the percentile interval of the mean of `values (N,)` over resamples."""
    assert values.ndim == 1 and values.numel() > 0, f"values must be (N>0,), got {values.shape}"
    n = values.numel()
    generator = torch.Generator().manual_seed(bootstrap.seed)
    draws = torch.randint(n, (bootstrap.n_boot, n), generator=generator)  # (B, N)
    means = values.double()[draws].mean(1)
    tail = (1.0 - bootstrap.level) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1.0 - tail], dtype=torch.float64))
    return [float(low), float(high)]


def intervals(per_query: dict[str, torch.Tensor], bootstrap: Bootstrap) -> dict[str, list[float]]:
    """`{"mAP": [low, high], ...}` for each MIREX figure, from its `(N,)` per-query values
    (`{"mAP": ap, "MR1": rank_first, ...}`, included queries only)."""
    return {key: mean_interval(values, bootstrap) for key, values in per_query.items()}
