"""The evaluation's results side by side: a text table for the log, flat names for MLflow."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from coverhunter.evaluation.metrics import MIREX_KEYS

logger = logging.getLogger(__name__)

RERANKED = "fine+rerank"
MODEL_ORDER = ("untrained", "chroma_baseline", "pretrained", "coarse", "fine", RERANKED, "qmax")
# The block of `evaluation_metrics` with every model scored on Qmax's queries.
SAME_QUERIES = "same_queries_as_qmax"
# What the qmax row holds beside the MIREX metrics, logged as `eval/qmax/<key>`.
QMAX_TIMING = ("n_pairs", "seconds_per_pair", "seconds_pairs", "seconds_hpcp", "seconds_total")

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


def in_model_order(rows: Mapping[str, dict]) -> dict:
    """`rows` by model, in `MODEL_ORDER` (models not in it are left out)."""
    return {name: rows[name] for name in MODEL_ORDER if name in rows}


def _log_table(title: str, rows: Mapping[str, Mapping]) -> None:
    logger.info(title)
    for line in results_table(rows).splitlines():  # one record a line: log handlers wrap
        logger.info("  %s", line)


def evaluation_results(
    rows: Mapping[str, dict],
    rows_on_qmax_queries: Mapping[str, dict],
    qmax_row: Mapping,
    two_stage_report: Mapping,
) -> tuple[dict, dict[str, float]]:
    """-> (evaluation_metrics, the same as flat MLflow metrics `eval/<model>/<metric>`).

    evaluation_metrics is `{model: row}` in `MODEL_ORDER` (each row with `ci95`; the qmax row,
    when scored, also holds its timing), plus `same_queries_as_qmax: {model: row}`, every model
    on Qmax's queries, logged as `eval/same_queries_as_qmax/<model>/<metric>`, then the two-stage
    search's `match_location` and, when thresholds were fitted, `open_set`. Both tables go to
    the log.
    """
    results = in_model_order({**rows, **({"qmax": qmax_row} if qmax_row else {})})
    _log_table("evaluation (MIREX protocol, every gallery performance a query):", results)
    metrics = metric_items(results, "eval")
    if qmax_row:
        same = in_model_order(rows_on_qmax_queries)
        same["qmax"] = {key: qmax_row[key] for key in (*MIREX_KEYS, "ci95")}
        _log_table(f"the same {qmax_row['n_queries']} queries as qmax:", same)
        for key in QMAX_TIMING:
            metrics[mlflow_metric_name("eval", "qmax", key)] = float(qmax_row[key])
        metrics.update(metric_items(same, mlflow_metric_name("eval", SAME_QUERIES)))
        results[SAME_QUERIES] = same
    results.update(two_stage_report)
    for key in ("match_location", "match_location_embedding", "match_location_pitch"):
        if key in two_stage_report:
            metrics.update(_location_metrics(key, two_stage_report[key]))
    for name, row in two_stage_report.get("open_set", {}).get("thresholds", {}).items():
        for rate in ("false_accept", "true_accept"):
            if row[rate]["share"] is not None:
                metrics[mlflow_metric_name("eval", "open_set", name, rate)] = row[rate]["share"]
    return results, metrics


def _location_metrics(key: str, location: Mapping) -> dict[str, float]:
    """The MLflow metrics of one match-location report (`match_location`: where the answers
    place pairs; `match_location_embedding`, `match_location_pitch`: each path), logged as it
    is read."""
    if not location["n_pairs"]:
        return {}
    logger.info(
        "%s: match starts within one hop (%.1f s) of the truth: %.3f of %d true pairs, %s of the "
        "%s ranked first",
        key,
        location["hop_s"],
        location["start_within_hop_share"],
        location["n_pairs"],
        location.get("start_within_hop_share_ranked_first"),
        location.get("n_pairs_ranked_first"),
    )
    out = {f"eval/{key}/start_within_hop_share": location["start_within_hop_share"]}
    if location.get("start_within_hop_share_ranked_first") is not None:
        out[f"eval/{key}/start_within_hop_share_ranked_first"] = location[
            "start_within_hop_share_ranked_first"
        ]
    return out
