"""`ingest` and `feature_cqt` in real Kedro sessions, with MLflow tracking in the temp project."""

import numpy as np
import pandas as pd
import soundfile as sf
from project_helpers import run_session

from coverhunter.data.feature_store import FeatureStore


def _write(path, seconds, rate=16000, channels=1, amplitude=0.5, freq=330.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    mono = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    sf.write(path, mono if channels == 1 else np.stack([mono] * channels, axis=1), rate)


def _user_collection(root):
    """A user's folder of audio and its CSV listing, with every kind of bad input."""
    audio = root / "audio"
    _write(audio / "a1.wav", 6.0, freq=220.0)
    _write(audio / "a2.flac", 15.0, rate=44100, channels=2, freq=330.0)
    _write(audio / "b1.ogg", 7.0, rate=8000, freq=440.0)
    _write(audio / "b2.wav", 6.5, freq=550.0)
    _write(audio / "silent.wav", 6.0, amplitude=0.0)
    _write(audio / "short.wav", 2.0)
    _write(audio / "dup.wav", 6.0)
    _write(audio / "solo.wav", 6.0, freq=660.0)
    (audio / "empty.flac").write_bytes(b"")
    (audio / "corrupt.wav").write_bytes(b"RIFF" + bytes(range(256)) * 4)
    rows = [
        ("a1", "A", "audio/a1.wav"),
        ("a2", "A", "audio/a2.flac"),
        ("b1", "B", "audio/b1.ogg"),
        ("b2", "B", "audio/b2.wav"),
        ("b3", "B", "audio/missing.wav"),
        ("b4", "B", "audio/empty.flac"),
        ("b5", "B", "audio/corrupt.wav"),
        ("b6", "B", "audio/silent.wav"),
        ("b7", "B", "audio/short.wav"),
        ("a1", "A", "audio/dup.wav"),
        ("c1", "C", "audio/solo.wav"),
    ]
    listing = root / "listing.csv"
    pd.DataFrame(rows, columns=["perf_id", "work_id", "path"]).to_csv(listing, index=False)
    return listing, audio


def _snapshot(folder):
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_ingest_and_features_on_a_user_csv_with_bad_input(kedro_project, tmp_path):
    listing, audio = _user_collection(tmp_path / "user")
    before = _snapshot(audio)
    params = {
        "collection": "mine",
        "ingest": {
            "source": "csv",
            "path": str(listing),
            "min_duration_s": 5.0,
            "max_duration_s": 12.0,
        },
    }
    run_session(kedro_project, ["ingest", "feature_cqt"], params)

    folder = kedro_project / "data" / "02_intermediate" / "mine"
    manifest = pd.read_parquet(folder / "manifest.parquet")
    rejects = pd.read_parquet(folder / "ingest_rejects.parquet")
    assert list(manifest.columns[:6]) == [
        "perf_id",
        "work_id",
        "path",
        "duration_s",
        "sample_rate",
        "split",
    ]
    assert sorted(manifest.perf_id) == ["a1", "a2", "b1", "b2", "c1"]
    assert sorted(rejects.perf_id) == ["a1", "b3", "b4", "b5", "b6", "b7"]
    assert rejects.reason.str.len().gt(0).all()
    solo = manifest.set_index("perf_id").loc["c1"]
    assert not solo.trainable and solo.n_versions == 1
    assert manifest.set_index("perf_id").loc["a2", "truncated"]

    store = FeatureStore(kedro_project / "data" / "04_feature" / "mine" / "cqt_store")
    shapes = {perf_id: store[perf_id].shape for perf_id in store}
    assert set(shapes) == set(manifest.perf_id)
    assert shapes["a2"] == (12 * 25 + 1, 96)  # truncated to max_duration_s, 25 frames per second
    assert shapes["b1"] == (7 * 25 + 1, 96)  # resampled from 8 kHz
    assert before == _snapshot(audio)  # nothing the user gave is touched
    assert not (kedro_project / "data" / "02_intermediate" / "default").exists()


def test_features_are_recomputed_only_for_changed_audio(kedro_project, tmp_path):
    listing, audio = _user_collection(tmp_path / "user")
    params = {"ingest": {"source": "csv", "path": str(listing), "min_duration_s": 5.0}}
    run_session(kedro_project, ["ingest", "feature_cqt"], params)
    folder = kedro_project / "data" / "04_feature" / "default" / "cqt_store"
    where = ["fingerprint", "shard", "offset"]
    first = FeatureStore(folder).table.set_index("perf_id")[where]

    _write(audio / "b2.wav", 6.5, freq=880.0)  # the same file, new content
    run_session(kedro_project, ["ingest", "feature_cqt"], params)
    store = FeatureStore(folder)
    second = store.table.set_index("perf_id")[where]

    assert set(first.index) == set(second.index)
    changed = {p for p in first.index if tuple(first.loc[p]) != tuple(second.loc[p])}
    assert changed == {"b2"}  # the others are neither recomputed nor moved
    peak_bin = int(np.argmax(np.asarray(store["b2"], np.float32)[20:-20].mean(axis=0)))
    assert peak_bin == round(12 * np.log2(880.0 / 32.0))


def test_every_run_is_an_mlflow_run_with_flattened_parameters(kedro_project, tmp_path):
    import mlflow

    listing, _ = _user_collection(tmp_path / "user")
    run_session(
        kedro_project,
        ["ingest"],
        {"ingest": {"source": "csv", "path": str(listing), "min_duration_s": 5.0}},
    )
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{kedro_project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("coverhunter")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    assert runs[0].data.params["ingest.min_duration_s"] == "5.0"
    assert runs[0].data.params["ingest.source"] == "csv"
