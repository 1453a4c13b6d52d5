import pandas as pd
import pytest

from coverhunter.data.manifest import MANIFEST_COLUMNS, finalise_manifest, hash_split

SPLIT = {"val_fraction": 0.2, "test_fraction": 0.2}


def _usable(rows):
    table = pd.DataFrame(rows, columns=["perf_id", "work_id"])
    return table.assign(
        path="x.wav", duration_s=30.0, sample_rate=16000, channels=1, truncated=False
    )


def test_hash_split_is_stable_when_works_are_added():
    few = {f"w{i}": hash_split(f"w{i}", 7, 0.2, 0.2) for i in range(50)}
    many = {f"w{i}": hash_split(f"w{i}", 7, 0.2, 0.2) for i in range(500)}
    assert all(many[w] == split for w, split in few.items())
    shares = pd.Series(many).value_counts(normalize=True)
    assert 0.5 < shares["train"] < 0.7 and 0.1 < shares["test"] < 0.3


def test_hash_split_depends_on_the_seed():
    works = [f"w{i}" for i in range(100)]
    assert [hash_split(w, 1, 0.2, 0.2) for w in works] != [
        hash_split(w, 2, 0.2, 0.2) for w in works
    ]


def test_bad_fractions_are_named():
    with pytest.raises(ValueError, match="val=0.6 test=0.5"):
        hash_split("w", 0, 0.6, 0.5)


def test_no_work_in_two_splits_and_single_versions_not_trainable():
    rows = [(f"p{w}_{v}", f"w{w}") for w in range(40) for v in range(1 + w % 3)]
    manifest = finalise_manifest(_usable(rows), seed=3, split=SPLIT)
    assert list(manifest.columns[: len(MANIFEST_COLUMNS)]) == MANIFEST_COLUMNS
    assert (manifest.groupby("work_id").split.nunique() == 1).all()
    singles = manifest[manifest.n_versions == 1]
    assert len(singles) and not singles.trainable.any()
    assert (manifest.trainable == ((manifest.split == "train") & (manifest.n_versions >= 2))).all()


def test_a_sources_own_split_wins_and_is_normalised():
    table = _usable([("a", "w1"), ("b", "w1"), ("c", "w2"), ("d", "w2")])
    table["split"] = ["dev", "dev", "TEST", "test"]
    manifest = finalise_manifest(table, seed=0, split=SPLIT).set_index("perf_id")
    assert manifest.loc["a", "split"] == "val" and manifest.loc["c", "split"] == "test"
