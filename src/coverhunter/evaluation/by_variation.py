"""mAP by kind of variation: which changes of a cover does a model see through, which not?

A collection that records how each version was made has columns named `var_<kind>` in its
manifest (the rendered corpus: `var_structure`, `var_melody`, `var_harmony`, `var_texture`; see
`corpora/rendered_corpus/collection.py`). A value is "none" (nothing of that kind was changed) or one
or more tags, comma-separated ("refit,sevenths", "arpeggio"). For every kind and every tag found
(the tag "none" included), the queries whose version carries the tag are set against those whose
version does not: the mAP and the number of queries on either side. The row of tag "none" thus
compares versions left alone in that kind (`with`) with versions changed in it (`without`).

A query's AP is the MIREX one (`metrics.per_query_metrics`), which also depends on the other
versions of its work; the split is by the query's own version only. Excluded queries (no other
version among the references) count on no side.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from coverhunter.evaluation.metrics import QueryMetrics

VARIATION_PREFIX = "var_"
NONE = "none"
COLUMNS = ("variation", "tag", "n_with", "map_with", "n_without", "map_without")


def variation_columns(manifest: pd.DataFrame) -> list[str]:
    """The manifest's `var_*` columns, in order (empty for collections that record none)."""
    return [c for c in manifest.columns if str(c).startswith(VARIATION_PREFIX)]


def tags_of(value: object) -> frozenset[str]:
    """The tags of one value: "a,b" -> {"a", "b"}; "none", "" and missing -> {"none"}."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return frozenset({NONE})
    tags = frozenset(t.strip() for t in str(value).split(",") if t.strip())
    return tags or frozenset({NONE})


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")


def map_by_variation(
    metrics: QueryMetrics, query_perf_ids: Sequence[str], manifest: pd.DataFrame
) -> pd.DataFrame:
    """mAP with and without each tag of each `var_*` column of `manifest` (see the module doc).

    Args:
        metrics: per-query results `(Q,)` of one model.
        query_perf_ids: `(Q,)` the queries' perf_ids, in the order of `metrics`.
        manifest: a row per performance, `perf_id` and the `var_*` columns; every query must
            have its row.

    Returns one row per (variation, tag), sorted: variation (the column), tag, n_with, map_with,
    n_without, map_without (NaN where a side has no query). Empty when the manifest has no
    `var_*` column.
    """
    ap = torch.as_tensor(metrics.ap).double().cpu().numpy()
    assert ap.ndim == 1, f"ap must be (Q,), got {ap.shape}"
    if len(query_perf_ids) != len(ap):
        raise ValueError(f"{len(ap)} per-query results but {len(query_perf_ids)} perf ids")
    kinds = variation_columns(manifest)
    if not kinds:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    rows = manifest.drop_duplicates("perf_id").set_index("perf_id")
    missing = sorted(set(map(str, query_perf_ids)) - set(rows.index.astype(str)))
    if missing:
        raise ValueError(f"{len(missing)} queries are not in the manifest, e.g. {missing[:3]}")
    included = ~torch.as_tensor(metrics.excluded).cpu().numpy()
    ids = np.asarray(query_perf_ids, dtype=str)[included]
    scores = ap[included]
    table = []
    for kind in kinds:
        tags = [tags_of(v) for v in rows.loc[ids, kind]]
        for tag in sorted(set().union(*tags)):
            has = np.array([tag in t for t in tags], dtype=bool)
            table.append(
                {
                    "variation": kind,
                    "tag": tag,
                    "n_with": int(has.sum()),
                    "map_with": _mean(scores[has]),
                    "n_without": int((~has).sum()),
                    "map_without": _mean(scores[~has]),
                }
            )
    return pd.DataFrame(table, columns=list(COLUMNS))
