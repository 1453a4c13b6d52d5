"""A feature store broken on disk (truncated index, changed or truncated shard) and audio broken
after ingest: `feature_cqt` recovers and says so, a reader names the file in one line."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import make_project
from fault_helpers import csv_params, user_listing
from project_helpers import run_session
from trained_project import inside

from coverhunter.cli import cli
from coverhunter.data.feature_store import FeatureStore

PERFS = [("a1", "A", "a1.wav"), ("a2", "A", "a2.wav"), ("b1", "B", "b1.wav"), ("b2", "B", "b2.wav")]
STORE = "data/04_feature/default/cqt_store"


@pytest.fixture(scope="module")
def featurised(tmp_path_factory):
    """A project after ingest and feature_cqt on four recordings of a user's CSV; its features."""
    project = make_project(tmp_path_factory.mktemp("featurised"))
    listing = user_listing(tmp_path_factory.mktemp("user"), PERFS)
    with inside(project):
        run_session(project, ["ingest", "feature_cqt"], csv_params(listing))
    store = FeatureStore(project / STORE)
    return project, listing, {p: np.array(store[p]) for p in store}


@pytest.fixture
def project(featurised, tmp_path, monkeypatch):
    """A private copy of the featurised project (its own MLflow store), as the working folder."""
    source, listing, features = featurised
    copy = tmp_path / "project"
    shutil.copytree(source, copy)
    mlflow_yml = copy / "conf/base/mlflow.yml"
    mlflow_yml.write_text(mlflow_yml.read_text().replace(str(source), str(copy)))
    monkeypatch.chdir(copy)
    return copy, listing, features


def _features_again(project, listing, caplog):
    with caplog.at_level(logging.WARNING):
        run_session(project, ["feature_cqt"], csv_params(listing))
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def _assert_same_features(project, features):
    store = FeatureStore(project / STORE)
    assert set(store) == set(features)
    assert not store.verify()
    for perf_id, array in features.items():
        np.testing.assert_array_equal(store[perf_id], array)


def test_a_truncated_index_is_set_aside_and_everything_recomputed(project, caplog):
    project, listing, features = project
    index = project / STORE / "index.parquet"
    index.write_bytes(index.read_bytes()[:100])
    warnings = _features_again(project, listing, caplog)

    aside = list((project / STORE).glob("index.parquet.corrupt-*"))
    assert len(aside) == 1 and aside[0].stat().st_size == 100
    assert any(
        str(index) in w and "set aside as " + aside[0].name in w and "computed again" in w
        for w in warnings
    ), warnings
    _assert_same_features(project, features)


@pytest.mark.parametrize("damage", ["flipped bytes", "truncated"])
def test_rows_failing_their_crc_are_recomputed(project, caplog, damage):
    project, listing, features = project
    table = FeatureStore(project / STORE).table.set_index("perf_id")
    shard = project / STORE / table.loc["b1", "shard"]
    start = int(table.loc["b1", "offset"] * table.loc["b1", "n_bins"] * 2)
    data = bytearray(shard.read_bytes())
    if damage == "flipped bytes":
        data[start + 100 : start + 108] = bytes(8)  # b1's row, in place
    else:
        data = data[: start + 50]  # b1 cut, and every row after it
    shard.write_bytes(bytes(data))
    broken = set(FeatureStore(project / STORE).verify())
    assert "b1" in broken
    warnings = _features_again(project, listing, caplog)

    assert any("fail their CRC-32 check" in w and shard.name in w for w in warnings), warnings
    after = FeatureStore(project / STORE).table.set_index("perf_id")
    assert all(after.loc[p, "shard"] != shard.name for p in broken)  # written anew
    _assert_same_features(project, features)


def test_a_reader_of_a_corrupt_store_stops_with_one_line_naming_the_file(project):
    from kedro.framework.startup import bootstrap_project

    project, listing, _ = project
    index = project / STORE / "index.parquet"
    index.write_bytes(index.read_bytes()[:100])
    bootstrap_project(project)
    params = f"ingest.source=csv,ingest.path={listing}"
    result = CliRunner().invoke(cli, ["run", "--pipelines", "coarse_training", "--params", params])
    assert result.exit_code == 2, result.output[-3000:]
    assert "Traceback" not in result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"kedro run: {index}: not a readable feature index")


def test_audio_broken_after_ingest_is_a_feature_reject_and_the_rest_go_on(project, caplog):
    project, listing, features = project
    audio = listing.parent / "audio"
    backup = {name: (audio / name).read_bytes() for name in ("a2.wav", "b2.wav")}
    try:
        (audio / "a2.wav").write_bytes(b"RIFF" + bytes(range(256)) * 4)  # corrupt since
        (audio / "b2.wav").unlink()  # deleted since
        warnings = _features_again(project, listing, caplog)
    finally:
        for name, content in backup.items():
            (audio / name).write_bytes(content)

    rejects = pd.read_parquet(project / "data/02_intermediate/default/feature_rejects.parquet")
    reasons = dict(zip(rejects.perf_id, rejects.reason, strict=True))
    assert set(reasons) == {"a2", "b2"}
    assert reasons["a2"].startswith("unreadable or corrupt audio")
    assert reasons["b2"] == "file not found"
    assert set(rejects.path.str.rsplit("/", n=1).str[-1]) == {"a2.wav", "b2.wav"}
    assert sum("no CQT for" in w for w in warnings) == 2
    store = FeatureStore(project / STORE)
    assert set(store) == {"a1", "b1"}  # the rest recomputed or reused, none half-written
    _assert_same_features(project, {p: features[p] for p in ("a1", "b1")})
