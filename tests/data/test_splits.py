"""Which works a stage trains on: every trainable one, or the first N of a seeded shuffle."""

import pandas as pd
import pytest

from coverhunter.data.splits import training_items


def _manifest(n_works: int) -> pd.DataFrame:
    rows = [
        {"perf_id": f"w{w:03d}_p{p}", "work_id": f"w{w:03d}", "trainable": w % 10 != 9}
        for w in range(n_works)
        for p in range(3)
    ]
    return pd.DataFrame(rows)


def test_every_trainable_work_by_default_and_for_all():
    manifest = _manifest(50)
    every = training_items(manifest)
    assert every.work_id.nunique() == 45  # works 9, 19, ... are not trainable
    assert training_items(manifest, "all", seed=3).equals(every)


def test_a_subset_is_whole_works_nested_in_the_larger_subsets_of_its_seed():
    manifest = _manifest(200)
    small = training_items(manifest, 10, seed=7)
    large = training_items(manifest, 100, seed=7)
    assert small.work_id.nunique() == 10 and large.work_id.nunique() == 100
    assert set(small.work_id) < set(large.work_id)
    assert (small.groupby("work_id").size() == 3).all()  # every version of a chosen work
    assert set(small.perf_id) <= set(manifest.loc[manifest.trainable, "perf_id"])
    other = training_items(manifest, 10, seed=8)
    assert set(other.work_id) != set(small.work_id)
    assert training_items(manifest, "10", seed=7).equals(small)  # as --params gives it


@pytest.mark.parametrize("bad", [1, 0, -5, 2.5, "some", True])
def test_a_count_that_is_not_a_whole_number_of_at_least_two_is_refused(bad):
    with pytest.raises(ValueError, match="training_works"):
        training_items(_manifest(20), bad)


def test_more_works_than_the_manifest_has_is_refused():
    with pytest.raises(ValueError, match="training_works=30 but the manifest has 18"):
        training_items(_manifest(20), 30)
