"""Whether a newly registered model becomes the champion: only by scoring better on the same queries.

Every registered version carries its evaluation as model-version tags (`metric_tags`): the fine
model's MIREX metrics, the collection, and a fingerprint of the query set (`queries_fingerprint`:
the queries' ids, works and feature fingerprints, i.e. their audio and CQT settings). A new
version replaces the champion when its mAP is higher than the champion's on the same fingerprint
(`decide_promotion`); on other queries the two numbers do not compare, and the champion stays
unless the policy is `always`. The reason is returned with the decision, for the run's record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from coverhunter.evaluation.metrics import MIREX_KEYS
from coverhunter.evaluation.report import mlflow_metric_name

PROMOTION_POLICIES = ("better", "always")
# The fine model's MIREX metrics are kept as version tags (`eval_mAP`, ..., `eval_P_at_10`);
# `eval_mAP` decides.
METRIC_TAG = "eval_mAP"
QUERIES_TAG = "eval_queries_fingerprint"
COLLECTION_TAG = "eval_collection"


def metric_tag(key: str) -> str:
    """The version tag of a metric, spelled as its MLflow name: `P@10` -> `eval_P_at_10`."""
    return f"eval_{mlflow_metric_name(key)}"


def queries_fingerprint(
    perf_ids: Sequence[str], work_ids: Sequence[str], feature_fingerprints: Sequence[str]
) -> str:
    """Hex blake2b (32 chars) of the query set, whatever its order.

    Each query is its perf_id, work_id and feature fingerprint (the audio's bytes and the CQT
    settings, `data/features.py`), so the same ids over other audio give another fingerprint.
    """
    if not len(perf_ids) == len(work_ids) == len(feature_fingerprints):
        raise ValueError(
            f"{len(perf_ids)} perf_ids, {len(work_ids)} work_ids and "
            f"{len(feature_fingerprints)} feature fingerprints: one each per query"
        )
    rows = sorted(
        zip(map(str, perf_ids), map(str, work_ids), map(str, feature_fingerprints), strict=True)
    )
    digest = hashlib.blake2b(digest_size=16)
    for row in rows:
        digest.update("\t".join(row).encode() + b"\n")
    return digest.hexdigest()


def metric_tags(metrics: Mapping[str, float], fingerprint: str, collection: str) -> dict[str, str]:
    """The version tags of one evaluation: its MIREX metrics, the query fingerprint, collection."""
    tags = {metric_tag(key): str(metrics[key]) for key in MIREX_KEYS}
    return {**tags, QUERIES_TAG: fingerprint, COLLECTION_TAG: str(collection)}


@dataclass(frozen=True)
class Promotion:
    """Whether the new version takes the alias, and why (recorded in the run)."""

    promote: bool
    reason: str


def decide_promotion(
    new: Mapping[str, str],
    champion: Mapping[str, str] | None,
    champion_version: str | None = None,
    policy: str = "better",
) -> Promotion:
    """Promote the version tagged `new` over the champion (its tags, None when there is none)?

    `policy`: `better` (only a higher mAP on the same query fingerprint) or `always`.
    """
    if policy not in PROMOTION_POLICIES:
        raise ValueError(f"promotion policy {policy!r}; expected one of {PROMOTION_POLICIES}")
    if policy == "always":
        return Promotion(True, "the promotion policy is `always`")
    if champion is None:
        return Promotion(True, "there was no champion")
    name = f"champion version {champion_version}" if champion_version else "the champion"
    if QUERIES_TAG not in champion or METRIC_TAG not in champion:
        return Promotion(
            False,
            f"{name} has no {QUERIES_TAG} or {METRIC_TAG} tag, so nothing to compare with; "
            "promote with evaluation.registry.promote: always",
        )
    if champion[QUERIES_TAG] != new[QUERIES_TAG]:
        return Promotion(
            False,
            f"{name} was evaluated on other queries (collection "
            f"{champion.get(COLLECTION_TAG, '?')!r}, fingerprint {champion[QUERIES_TAG]}; these: "
            f"{new.get(COLLECTION_TAG, '?')!r}, {new[QUERIES_TAG]}): the mAPs do not compare",
        )
    ours, theirs = float(new[METRIC_TAG]), float(champion[METRIC_TAG])
    if ours > theirs:
        return Promotion(True, f"mAP {ours:.4f} beats {name}'s {theirs:.4f} on the same queries")
    return Promotion(
        False, f"mAP {ours:.4f} does not beat {name}'s {theirs:.4f} on the same queries"
    )
