"""The champion moves only to a model that scores better on the same queries."""

import pytest

from coverhunter.evaluation.champion import (
    COLLECTION_TAG,
    QUERIES_TAG,
    decide_promotion,
    metric_tags,
    queries_fingerprint,
)

PERFS, WORKS, FEATURES = ["p1", "p2", "p3"], ["w1", "w1", "w2"], ["f1", "f2", "f3"]
METRICS = {"mAP": 0.5, "MR1": 2.0, "hit_rate": 0.75, "P@10": 0.2, "n_queries": 3}


def _tags(map_value: float, fingerprint: str = "q", collection: str = "default") -> dict:
    return metric_tags({**METRICS, "mAP": map_value}, fingerprint, collection)


def test_the_fingerprint_is_the_query_set_whatever_its_order():
    one = queries_fingerprint(PERFS, WORKS, FEATURES)
    assert len(one) == 32
    assert queries_fingerprint(PERFS[::-1], WORKS[::-1], FEATURES[::-1]) == one
    assert queries_fingerprint(PERFS[:2], WORKS[:2], FEATURES[:2]) != one  # a query fewer
    assert queries_fingerprint(PERFS, ["w1", "w2", "w2"], FEATURES) != one  # another labelling
    assert queries_fingerprint(PERFS, WORKS, ["f1", "f2", "other"]) != one  # other audio
    with pytest.raises(ValueError, match="one each per query"):
        queries_fingerprint(PERFS, WORKS, FEATURES[:2])


def test_the_tags_hold_every_metric_the_fingerprint_and_the_collection():
    tags = metric_tags(METRICS, "abc", "mine")
    assert tags == {
        "eval_mAP": "0.5",
        "eval_MR1": "2.0",
        "eval_hit_rate": "0.75",
        "eval_P_at_10": "0.2",
        "eval_n_queries": "3",
        QUERIES_TAG: "abc",
        COLLECTION_TAG: "mine",
    }


@pytest.mark.parametrize(
    ("new", "champion", "promote", "reason"),
    [
        (0.6, None, True, "there was no champion"),
        (0.6, 0.5, True, "mAP 0.6000 beats champion version 3's 0.5000 on the same queries"),
        (0.5, 0.5, False, "mAP 0.5000 does not beat champion version 3's 0.5000"),
        (0.4, 0.5, False, "mAP 0.4000 does not beat champion version 3's 0.5000"),
    ],
)
def test_on_the_same_queries_only_a_higher_map_takes_the_alias(new, champion, promote, reason):
    holder = None if champion is None else _tags(champion)
    decision = decide_promotion(_tags(new), holder, "3")
    assert decision.promote is promote
    assert decision.reason.startswith(reason)


def test_on_other_queries_even_a_higher_map_leaves_the_champion():
    decision = decide_promotion(_tags(0.9, "ours", "tiny"), _tags(0.1, "theirs"), "7")
    assert not decision.promote
    assert "champion version 7 was evaluated on other queries" in decision.reason
    assert "'default'" in decision.reason and "'tiny'" in decision.reason


def test_a_champion_without_the_tags_is_kept_and_the_way_to_replace_it_named():
    decision = decide_promotion(_tags(0.9), {"eval_mAP": "0.1"}, "1")
    assert not decision.promote and "promote: always" in decision.reason


def test_the_always_policy_promotes_and_an_unknown_one_is_named():
    assert decide_promotion(_tags(0.1, "ours"), _tags(0.9, "theirs"), "1", "always").promote
    with pytest.raises(ValueError, match="'sometimes'"):
        decide_promotion(_tags(0.1), None, None, "sometimes")
