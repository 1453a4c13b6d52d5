"""The pretraining corpus: rendered works straight into the feature store, resumable, and never a
work of the default collection (nor Bach)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from coverhunter.audio.cqt import CQTConfig
from coverhunter.corpora.pretraining_corpus.build import build_pretraining_corpus
from coverhunter.corpora.pretraining_corpus.config import pretraining_settings
from coverhunter.corpora.pretraining_corpus.manifest import pretraining_manifest, pretraining_splits
from coverhunter.corpora.pretraining_corpus.resume import ROWS_FILE, STATE_FILE
from coverhunter.corpora.pretraining_corpus.work import TABLE_COLUMNS
from coverhunter.corpora.rendered_corpus.collection import render_corpus_collection
from coverhunter.corpora.rendered_corpus.config import RenderedCorpusConfig
from coverhunter.corpora.rendered_corpus.corpus_pieces import is_bach
from coverhunter.corpora.rendered_corpus.works import select_candidates, work_id_of
from coverhunter.data.feature_store import FeatureStore, FeatureStoreWriter, read_index
from coverhunter.data.features import write_cqt_features

SEED = 42
CQT = CQTConfig()
# The default collection's settings (ingest.rendered_corpus) made small: 2 works, short pieces,
# few fillers (each filler is parsed once per process). The pretraining renders with them.
DEFAULT = {
    "root": "unused",
    "n_works": 2,
    "min_versions": 2,
    "max_versions": 2,
    "min_duration_s": 10.0,
    "max_duration_s": 12.0,
    "min_excerpt_s": 5.0,
    "max_excerpt_s": 10.0,
    "max_prelude_s": 3.0,
    "max_outro_s": 2.0,
    "n_fillers": 4,
    "n_jobs": 1,
}
# pretrain_corpus, tiny: 3 works x 4 versions of 10-12 s.
PRETRAIN = {
    "n_works": 3,
    "min_versions": 4,
    "max_versions": 4,
    "min_duration_s": 10.0,
    "max_duration_s": 12.0,
    "min_val_works": 1,
    "n_jobs": 1,
    "commit_every": 1,
}


def build(folder: Path, **overrides) -> tuple[pd.DataFrame, FeatureStore]:
    config, render, default = pretraining_settings({**PRETRAIN, **overrides}, DEFAULT)
    with FeatureStoreWriter(folder) as writer:
        return build_pretraining_corpus(writer, config, render, default, CQT, SEED)


@pytest.fixture(scope="module")
def default_collection(tmp_path_factory, fluidsynth_soundfont) -> pd.DataFrame:
    """The tiny default collection, rendered by rendered_corpus itself (not replayed)."""
    root = tmp_path_factory.mktemp("default") / "corpus"
    settings = {k: v for k, v in DEFAULT.items() if k != "root"}
    return render_corpus_collection(root, RenderedCorpusConfig(**settings), SEED)


@pytest.fixture(scope="module")
def built(tmp_path_factory, fluidsynth_soundfont) -> tuple[Path, pd.DataFrame, FeatureStore]:
    folder = tmp_path_factory.mktemp("pretrain") / "cqt_store"
    return (folder, *build(folder))


def _arrays(store: FeatureStore) -> dict[str, np.ndarray]:
    return {perf_id: np.array(store[perf_id]) for perf_id in store}


def test_tiny_build_writes_every_version_as_float16_cqt(built):
    folder, table, store = built
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert len(table) == 12 and table.work_id.nunique() == 3
    assert (table.groupby("work_id").size() == 4).all()
    assert (table.path == "").all()  # keep_audio is off: no audio anywhere
    assert set(store) == set(table.perf_id)
    for row in table.itertuples():
        array = store[row.perf_id]
        n_samples = round(row.duration_s * row.sample_rate)
        assert array.dtype == np.float16 and array.shape == (CQT.n_frames(n_samples), 96)
        assert np.isfinite(array).all() and array.max() == 0  # peak-normalised log-CQT
    assert table.var_structure.notna().all() and table.var_texture.notna().all()
    assert (folder / STATE_FILE).is_file() and (folder / ROWS_FILE).is_file()
    assert torch.get_num_threads() >= 1  # restored after the in-process build

    manifest = pretraining_manifest(table, pretraining_settings(PRETRAIN, DEFAULT)[0], SEED)
    assert list(manifest.columns[:6]) == [
        "perf_id", "work_id", "path", "duration_s", "sample_rate", "split",
    ]  # fmt: skip
    by_work = manifest.groupby("work_id").split.agg(set)
    assert by_work.map(len).eq(1).all()  # a work never straddles splits
    assert sorted(manifest.split.unique()) == ["train", "val"]  # no test split
    assert manifest[manifest.split == "train"].trainable.all()
    assert (manifest.n_versions == 4).all() and manifest.true_offset_s.notna().all()


def test_two_processes_and_kept_audio_give_the_same_features(built, tmp_path):
    """n_jobs changes only speed; keep_audio adds the FLAC files, whose CQT (as feature_cqt
    computes it) is what the store holds."""
    _, table, store = built
    audio_root = tmp_path / "audio"
    other, other_store = build(
        tmp_path / "store", n_jobs=2, keep_audio=True, audio_root=str(audio_root)
    )
    pd.testing.assert_frame_equal(table.drop(columns="path"), other.drop(columns="path"))
    assert other.path.map(lambda p: Path(p).is_file() and Path(p).is_relative_to(audio_root)).all()
    assert store.table.set_index("perf_id").fingerprint.to_dict() == (
        other_store.table.set_index("perf_id").fingerprint.to_dict()
    )
    first, second = _arrays(store), _arrays(other_store)
    assert all(np.array_equal(first[p], second[p]) for p in first)

    # feature_cqt on the kept files gives the same arrays.
    manifest = other.head(4)
    with FeatureStoreWriter(tmp_path / "from_files") as writer:
        from_files, _ = write_cqt_features(manifest, writer, CQT, None, 4, 1, torch.device("cpu"))
    for perf_id in manifest.perf_id:
        assert np.array_equal(np.array(from_files[perf_id]), first[perf_id])


def test_no_work_of_the_default_collection_and_nothing_by_bach(built, default_collection):
    folder, table, _ = built
    default_works = set(default_collection.work_id)
    assert not default_works & set(table.work_id)
    heard = set(table.piece) | set(table.prelude_piece) | set(table.outro_piece)
    assert not set(default_collection.piece) & heard  # neither as works nor as preludes/outros
    assert not any(is_bach(p) for p in heard | set(table.composer))
    # The replay found the works rendered_corpus rendered, and they would have been taken first.
    state = json.loads((folder / STATE_FILE).read_text())
    assert sorted(state["excluded"]["works"]) == sorted(set(default_collection.piece))
    render = pretraining_settings(PRETRAIN, DEFAULT)[1]
    order = [work_id_of(c) for c in select_candidates(render, SEED)[0]]
    assert max(order.index(w) for w in default_works) < min(order.index(w) for w in table.work_id)


def test_a_killed_build_resumes_where_it_stopped(built, tmp_path, caplog):
    """The 3 works built; a build of 5 killed (SIGKILL) after committing its 4th work; asked
    again, only the 5th work is rendered and the first 3 are the uninterrupted build's."""
    reference_folder, reference, reference_store = built
    folder = tmp_path / "cqt_store"
    shutil.copytree(reference_folder, folder)
    before = read_index(folder).groupby("perf_id").shard.first()

    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_pretraining_corpus import build\n"
        f"build(__import__('pathlib').Path({str(folder)!r}), n_works=5)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if len(read_index(folder)) >= 16:  # the 4th work is committed
            break
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    committed = read_index(folder).groupby("perf_id").shard.first()
    assert len(committed) == 16, "the build did not commit its 4th work in time, or finished"
    assert (committed[before.index] == before).all()  # the first 3 were not rendered again

    with caplog.at_level("INFO", logger="coverhunter.corpora.pretraining_corpus"):
        table, store = build(folder, n_works=5)
    assert "4 already in the store" in caplog.text
    final = store.table.groupby("perf_id").shard.first()
    assert (final[committed.index] == committed).all()  # none of the 4 works written again
    assert final.drop(committed.index).nunique() == 1  # the 5th work, by this run
    assert len(table) == 20 and table.work_id.nunique() == 5
    pd.testing.assert_frame_equal(
        table[table.perf_id.isin(reference.perf_id)].reset_index(drop=True), reference
    )
    first = _arrays(reference_store)
    assert all(np.array_equal(np.array(store[p]), first[p]) for p in first)

    # Asked for fewer works, the store keeps only those.
    table, store = build(folder, n_works=2)
    assert set(store) == set(table.perf_id) and table.work_id.nunique() == 2


def test_validation_share_is_by_work_with_a_floor_and_no_test_split():
    works = pd.Series([f"rc_w{i}" for i in range(1000) for _ in range(4)])
    split = pretraining_splits(works, SEED, val_fraction=0.03, min_val_works=100)
    val_works = works[split == "val"].unique()
    assert len(val_works) == 100  # 3% is ~30 works, below the floor
    assert set(split) == {"train", "val"}
    assert split.groupby(works).nunique().eq(1).all()
    more = pretraining_splits(works, SEED, val_fraction=0.2, min_val_works=100)
    assert 150 < (more == "val").sum() / 4 < 250  # the share wins above the floor
    assert set(works[more == "val"]) >= set(val_works)  # the floor adds the lowest hashes
    assert (pretraining_splits(works[:8], SEED, 0.03, 100) == "val").sum() == 4  # one work stays


def test_settings_come_over_the_default_collections_and_unknown_keys_fail():
    config, render, default = pretraining_settings(
        {**PRETRAIN, "n_works": "all", "n_jobs": None, "cover": {"p_ornaments": 0.9}},
        {**DEFAULT, "cover": {"p_ornaments": 0.3, "p_sevenths": 0.1}},
    )
    assert config.n_works is None and config.workers == len(os.sched_getaffinity(0))
    assert render.min_versions == 4 and default.min_versions == 2 and render.n_fillers == 4
    assert render.cover.p_ornaments == 0.9 and render.cover.p_sevenths == 0.1  # merged by key
    assert render.n_jobs == config.workers
    with pytest.raises(TypeError, match="no_such_setting"):
        pretraining_settings({**PRETRAIN, "no_such_setting": 1}, DEFAULT)
    with pytest.raises(ValueError, match="commit_every"):
        pretraining_settings({**PRETRAIN, "commit_every": 0}, DEFAULT)
    with pytest.raises(ValueError, match="audio_root"):
        pretraining_settings({**PRETRAIN, "keep_audio": True}, DEFAULT)
