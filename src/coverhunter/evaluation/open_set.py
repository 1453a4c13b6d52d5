"""Open-set evaluation: some test works are left out of the gallery, and each query is answered
"a version of W" or "no known work" by a calibrated threshold (evaluation/calibration.py).

The left-out works' queries should all be refused: the share accepted is the false-accept rate
the threshold promised (on validation works). The others should be accepted with the right work:
the share that is, is the true-accept rate. Both come with bootstrap 95% intervals over queries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from coverhunter.evaluation.bootstrap import Bootstrap, mean_interval
from coverhunter.evaluation.calibration import best_scores


def held_out_works(work_ids: Sequence[str], fraction: float, seed: int) -> list[str]:
    """A seeded `fraction` of the distinct works (at least one, never all), sorted."""
    works = sorted(set(work_ids))
    if len(works) < 2:
        raise ValueError(f"an open-set check needs at least two works, got {len(works)}")
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"open_set held_out_fraction must lie in (0, 1), got {fraction}")
    n = min(max(1, round(fraction * len(works))), len(works) - 1)
    chosen = np.random.default_rng(seed).choice(len(works), size=n, replace=False)
    return sorted(works[i] for i in chosen)


def open_set_exclusion(
    work_ids: Sequence[str], perf_ids: Sequence[str], held_out: Sequence[str]
) -> torch.Tensor:
    """`(N, N)` bool: column j is not a candidate of query i (itself, or a left-out work)."""
    out = torch.as_tensor(np.isin(np.asarray(work_ids), list(held_out)))
    return torch.eye(len(perf_ids), dtype=torch.bool) | out[None, :]


def _rate(accepted: torch.Tensor, bootstrap: Bootstrap) -> dict:
    if accepted.numel() == 0:
        return {"share": None, "ci95": None, "n": 0}
    values = accepted.double()
    return {
        "share": float(values.mean()),
        "ci95": mean_interval(values, bootstrap),
        "n": int(values.numel()),
    }


def open_set_report(
    distances: torch.Tensor,
    work_ids: Sequence[str],
    perf_ids: Sequence[str],
    held_out: Sequence[str],
    thresholds: Mapping[str, Mapping],
    bootstrap: Bootstrap,
) -> dict:
    """Per threshold: `false_accept` (left-out works' queries accepted) and `true_accept`
    (in-gallery queries with another version in the gallery, accepted with the right work),
    each `{"share", "ci95", "n"}`, with the threshold and the rate it was fitted for.

    `distances` `(N, N)`: 1 - the final score of every pair, found with the left-out works out of
    every shortlist (`open_set_exclusion`).
    """
    works = np.asarray(work_ids)
    exclude = open_set_exclusion(work_ids, perf_ids, held_out)
    score, column = best_scores(distances, exclude)
    outside = torch.as_tensor(np.isin(works, list(held_out)))
    same = works[:, None] == works[None, :]
    has_version = torch.as_tensor((same & ~exclude.numpy()).any(1))
    right_work = torch.as_tensor(works[column.numpy()] == works)
    inside = ~outside & has_version
    report = {"held_out_works": list(held_out), "thresholds": {}}
    for name, fitted in thresholds.items():
        accepted = score >= fitted["threshold"]
        report["thresholds"][name] = {
            "far": fitted["far"],
            "threshold": fitted["threshold"],
            "false_accept": _rate(accepted[outside], bootstrap),
            "true_accept": _rate((accepted & right_work)[inside], bootstrap),
        }
    return report
