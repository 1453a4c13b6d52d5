"""mAP by kind of variation, against per-query APs worked out by hand."""

import math

import pandas as pd
import pytest
import torch

from coverhunter.evaluation.by_variation import COLUMNS, map_by_variation, tags_of
from coverhunter.evaluation.metrics import per_query_metrics


def _row(table: pd.DataFrame, variation: str, tag: str) -> dict:
    rows = table[(table.variation == variation) & (table.tag == tag)]
    assert len(rows) == 1, (variation, tag)
    return rows.iloc[0].to_dict()


def test_queries_with_and_without_each_tag():
    # Four versions: a1, a2 of work A; b1, b2 of work B (order of rows and columns).
    dist = torch.tensor(
        [
            [0.0, 0.1, 0.5, 0.6],  # a1: a2 first             -> AP 1
            [0.3, 0.0, 0.2, 0.9],  # a2: b1, then a1          -> AP 1/2
            [0.5, 0.6, 0.0, 0.1],  # b1: b2 first             -> AP 1
            [0.1, 0.2, 0.3, 0.0],  # b2: a1, a2, then b1      -> AP 1/3
        ]
    )
    ids, works = ["a1", "a2", "b1", "b2"], ["A", "A", "B", "B"]
    metrics = per_query_metrics(dist, works, works, ids, ids)
    assert metrics.ap.tolist() == pytest.approx([1.0, 0.5, 1.0, 1 / 3])
    manifest = pd.DataFrame(
        {
            "perf_id": ["b2", "b1", "a2", "a1"],  # any order
            "work_id": ["B", "B", "A", "A"],
            "var_harmony": ["refit", "none", "refit,sevenths", "none"],
            "var_texture": ["arpeggio", "block", "block", "block"],
        }
    )
    table = map_by_variation(metrics, ids, manifest)
    assert tuple(table.columns) == COLUMNS
    assert list(zip(table.variation, table.tag, strict=True)) == [
        ("var_harmony", "none"),
        ("var_harmony", "refit"),
        ("var_harmony", "sevenths"),
        ("var_texture", "arpeggio"),
        ("var_texture", "block"),
    ]
    refit = _row(table, "var_harmony", "refit")  # a2 and b2 against a1 and b1
    assert (refit["n_with"], refit["n_without"]) == (2, 2)
    assert refit["map_with"] == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert refit["map_without"] == pytest.approx(1.0)
    untouched = _row(table, "var_harmony", "none")  # the same split, read the other way
    assert untouched["map_with"] == pytest.approx(1.0)
    assert untouched["map_without"] == pytest.approx(5 / 12)
    sevenths = _row(table, "var_harmony", "sevenths")
    assert (sevenths["n_with"], sevenths["map_with"]) == (1, pytest.approx(0.5))
    assert sevenths["map_without"] == pytest.approx((1 + 1 + 1 / 3) / 3)
    arpeggio = _row(table, "var_texture", "arpeggio")
    assert arpeggio["map_with"] == pytest.approx(1 / 3)
    assert arpeggio["map_without"] == pytest.approx(2.5 / 3)


def test_excluded_queries_count_on_no_side_and_an_empty_side_is_nan():
    # c1 has no other version among the references: excluded.
    dist = torch.tensor([[0.0, 0.1, 0.2], [0.1, 0.0, 0.2], [0.2, 0.1, 0.0]])
    ids, works = ["a1", "a2", "c1"], ["A", "A", "C"]
    metrics = per_query_metrics(dist, works, works, ids, ids)
    assert metrics.excluded.tolist() == [False, False, True]
    manifest = pd.DataFrame({"perf_id": ids, "var_structure": ["none", "none", "section_repeated"]})
    table = map_by_variation(metrics, ids, manifest)
    assert table.tag.tolist() == ["none"]  # c1's tag is not seen: it was not scored
    row = _row(table, "var_structure", "none")
    assert (row["n_with"], row["map_with"], row["n_without"]) == (2, 1.0, 0)
    assert math.isnan(row["map_without"])


def test_collections_without_variation_columns_and_unknown_queries():
    dist = torch.tensor([[0.0, 0.1], [0.1, 0.0]])
    metrics = per_query_metrics(dist, ["A", "A"], ["A", "A"], ["a1", "a2"], ["a1", "a2"])
    plain = pd.DataFrame({"perf_id": ["a1", "a2"], "work_id": ["A", "A"]})
    table = map_by_variation(metrics, ["a1", "a2"], plain)
    assert table.empty and tuple(table.columns) == COLUMNS
    with pytest.raises(ValueError, match="not in the manifest"):
        map_by_variation(metrics, ["a1", "a2"], plain.assign(var_melody="none").iloc[:1])
    with pytest.raises(ValueError, match="perf ids"):
        map_by_variation(metrics, ["a1"], plain)


def test_tags_of_a_value():
    assert tags_of("refit,sevenths") == {"refit", "sevenths"}
    assert tags_of("none") == tags_of("") == tags_of(None) == tags_of(float("nan")) == {"none"}
    assert tags_of("walking_bass") == {"walking_bass"}
