"""The evaluation's results side by side: a text table for the log, flat names for MLflow."""

from __future__ import annotations

import re
from collections.abc import Mapping

from coverhunter.evaluation.metrics import MIREX_KEYS

# MLflow metric names allow letters, digits, `_ - . / :` and spaces; "P@10" becomes "P_at_10".
_NOT_ALLOWED = re.compile(r"[^\w\-./: ]")


def mlflow_metric_name(*parts: str) -> str:
    """`"eval", "fine", "P@10"` -> `"eval/fine/P_at_10"`."""
    return "/".join(_NOT_ALLOWED.sub("_", part.replace("@", "_at_")) for part in parts)


def metric_items(results: Mapping[str, Mapping[str, float | int]], prefix: str) -> dict[str, float]:
    """`{"<prefix>/<model>/<metric>": value}` for every model and MIREX metric."""
    return {
        mlflow_metric_name(prefix, model, key): float(row[key])
        for model, row in results.items()
        for key in MIREX_KEYS
    }


def _interval(row: Mapping, key: str) -> str:
    """`0.412-0.598`, the row's 95% interval of `key`, or blank where it has none."""
    low, high = row.get("ci95", {}).get(key, (None, None))
    return "" if low is None else f"{low:.3f}-{high:.3f}"


def results_table(results: Mapping[str, Mapping]) -> str:
    """One line per model: mAP, its 95% interval (when the row has `ci95`), MR1, hit rate,
    P@10, queries, aligned in columns."""
    width = max([len("model"), *(len(model) for model in results)])
    lines = [
        f"{'model':<{width}}  {'mAP':>6}  {'mAP 95% CI':>11}  {'MR1':>7}  {'hit@1':>6}  "
        f"{'P@10':>6}  {'queries':>7}"
    ]
    for model, row in results.items():
        lines.append(
            f"{model:<{width}}  {row['mAP']:6.3f}  {_interval(row, 'mAP'):>11}  "
            f"{row['MR1']:7.2f}  {row['hit_rate']:6.3f}  {row['P@10']:6.3f}  "
            f"{int(row['n_queries']):7d}"
        )
    return "\n".join(lines)
