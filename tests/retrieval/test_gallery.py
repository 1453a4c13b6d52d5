"""The gallery table: which stored chunk embeddings are reused, merged order, track means, index info."""

import math

import numpy as np
import pandas as pd
import pytest

from coverhunter.retrieval.gallery import (
    ChunkSettings,
    ModelIndexMismatchError,
    check_index_info,
    gallery_performances,
    index_from_table,
    index_info,
    merge_gallery,
    split_reusable,
    track_embeddings,
    with_fingerprints,
)

S = 1 / math.sqrt(2)


def _rows(perf_id, work_id, vectors, fingerprint):
    return pd.DataFrame(
        {
            "perf_id": perf_id,
            "work_id": work_id,
            "chunk_idx": range(len(vectors)),
            "start_s": [45.0 * i for i in range(len(vectors))],
            "embedding": [np.asarray(v, dtype=np.float32) for v in vectors],
            "fingerprint": fingerprint,
        }
    )


def test_chunk_settings_in_frames_never_give_a_tail_shorter_than_the_model_accepts():
    assert ChunkSettings(45.0, 10.0).frames(25.0) == (1125, 250)
    assert ChunkSettings(45.0, 0.0).frames(25.0) == (1125, 1)
    assert ChunkSettings(45.0, 0.0).frames(25.0, min_frames=7) == (1125, 7)
    with pytest.raises(ValueError, match="chunk_s"):
        ChunkSettings(0.0, 1.0)


def test_gallery_performances_keeps_the_splits_with_features():
    manifest = pd.DataFrame(
        {
            "perf_id": ["a", "b", "c", "d"],
            "work_id": ["A", "A", "B", "B"],
            "split": ["test", "train", "test", "test"],
        }
    )
    features = pd.DataFrame({"perf_id": ["a", "b", "c"], "fingerprint": ["fa", "fb", "fc"]})
    rows = gallery_performances(manifest, ["test"], features)
    assert rows.perf_id.tolist() == ["a", "c"]  # d has no features, b is train
    assert rows.feature_fingerprint.tolist() == ["fa", "fc"]
    assert gallery_performances(manifest, ["test", "val"], features).perf_id.tolist() == ["a", "c"]
    with pytest.raises(ValueError, match=r"splits \['val'\] has features \(the manifest's splits"):
        gallery_performances(manifest, ["val"], features)
    with pytest.raises(ValueError, match="list of split names"):
        gallery_performances(manifest, "test", features)
    with pytest.raises(ValueError, match="empty"):
        gallery_performances(manifest, ["train"], features.iloc[[0]])


def test_fingerprint_changes_with_features_model_and_settings_but_not_the_work():
    perfs = pd.DataFrame({"perf_id": ["a"], "work_id": ["A"], "feature_fingerprint": ["f1"]})
    base = with_fingerprints(perfs, "m1", {"chunk_s": 45.0}).fingerprint[0]
    assert (
        with_fingerprints(perfs.assign(work_id="Z"), "m1", {"chunk_s": 45.0}).fingerprint[0] == base
    )
    assert with_fingerprints(perfs, "m2", {"chunk_s": 45.0}).fingerprint[0] != base
    assert with_fingerprints(perfs, "m1", {"chunk_s": 30.0}).fingerprint[0] != base
    changed = perfs.assign(feature_fingerprint="f2")
    assert with_fingerprints(changed, "m1", {"chunk_s": 45.0}).fingerprint[0] != base


def test_only_unchanged_performances_are_reused_and_the_merge_follows_the_wanted_order():
    previous = pd.concat(
        [
            _rows("a", "A", [[1, 0], [0, 1]], "fa"),
            _rows("b", "B", [[1, 0]], "old-fb"),  # its recording changed since
            _rows("gone", "B", [[0, 1]], "fg"),  # no longer in the gallery
        ],
        ignore_index=True,
    )
    wanted = pd.DataFrame(
        {"perf_id": ["c", "b", "a"], "work_id": ["C", "B", "A2"], "fingerprint": ["fc", "fb", "fa"]}
    )
    kept, todo = split_reusable(previous, wanted)
    assert kept.perf_id.tolist() == ["a", "a"]
    assert todo.perf_id.tolist() == ["c", "b"]

    new = pd.concat([_rows("b", "B", [[S, S]], "fb"), _rows("c", "C", [[0, 1]], "fc")])
    table = merge_gallery(wanted, kept, new)
    assert table.perf_id.tolist() == ["c", "b", "a", "a"]
    assert table.chunk_idx.tolist() == [0, 0, 0, 1]
    assert table.work_id.tolist() == ["C", "B", "A2", "A2"]  # relabelled without re-embedding


def test_a_first_run_reuses_nothing():
    first_run = pd.DataFrame({"perf_id": [], "fingerprint": [], "n_frames": []})
    wanted = pd.DataFrame({"perf_id": ["a"], "work_id": ["A"], "fingerprint": ["fa"]})
    kept, todo = split_reusable(first_run, wanted)
    assert kept.empty and todo.perf_id.tolist() == ["a"]


def test_track_embedding_is_the_renormalised_mean_of_the_chunks():
    table = pd.concat([_rows("a", "A", [[1, 0], [0, 1]], "fa"), _rows("b", "B", [[0, 1]], "fb")])
    tracks = track_embeddings(table)
    assert tracks.perf_id.tolist() == ["a", "b"]
    assert tracks.work_id.tolist() == ["A", "B"]
    assert tracks.n_chunks.tolist() == [2, 1]
    np.testing.assert_allclose(np.stack(tracks.embedding), [[S, S], [0, 1]], atol=1e-6)


def test_index_info_and_the_model_check():
    table = pd.concat([_rows("a", "A", [[1, 0], [0, 1]], "fa"), _rows("b", "B", [[0, 1]], "fb")])
    chunk_index = index_from_table(table, {"type": "flat"})
    assert chunk_index.chunk_perf_ids.tolist() == ["a", "a", "b"]
    assert chunk_index.chunk_starts_s.tolist() == [0.0, 45.0, 0.0]
    info = index_info(chunk_index, "m1", {"chunk_s": 45.0})
    assert info == {
        "model_fingerprint": "m1",
        "n_chunks": 3,
        "n_performances": 2,
        "dim": 2,
        "chunk_s": 45.0,
    }
    check_index_info(info, "m1")
    with pytest.raises(ModelIndexMismatchError, match="indexing"):
        check_index_info(info, "m2")
