"""`inference`: the trained models score another collection, written under that collection only."""

import json

import mlflow
import pandas as pd
import pytest
from project_helpers import run_session
from trained_project import inside, trained_project_copy

NEW = "covers"


def _snapshot(project):
    """Every file of the training collection, with its size and modification time."""
    files = {}
    for path in (project / "data").rglob("*"):
        if path.is_file() and "default" in path.relative_to(project / "data").parts:
            files[str(path.relative_to(project))] = (path.stat().st_size, path.stat().st_mtime_ns)
    return files


def _listing(project, path):
    """A user's CSV of recordings: the tiny collection's test audio under new ids."""
    manifest = pd.read_parquet(project / "data/02_intermediate/default/manifest.parquet")
    manifest = manifest[manifest.split == "test"]
    listing = pd.DataFrame(
        {
            "perf_id": "u_" + manifest.perf_id,
            "work_id": "u_" + manifest.work_id,
            "path": [str((project / p).resolve()) for p in manifest.path],
        }
    )
    listing.to_csv(path, index=False)
    return listing


def _params(listing_path, collection):
    return {
        "collection": collection,
        "device": "cpu",
        "ingest": {"source": "csv", "path": str(listing_path), "min_duration_s": 5.0},
    }


def _registered_versions(project):
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    return [v.version for v in client.search_model_versions("name='coverhunter'")]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return trained_project_copy(tmp_path_factory, "inference")


def test_inference_scores_the_trained_models_on_a_new_collection(project, tmp_path):
    listing = _listing(project, tmp_path / "listing.csv")
    before = _snapshot(project)
    versions = _registered_versions(project)

    with inside(project):
        run_session(project, ["inference"], _params(tmp_path / "listing.csv", NEW))

    metrics = json.loads((project / f"data/08_reporting/{NEW}/evaluation_metrics.json").read_text())
    assert list(metrics)[:4] == ["untrained", "chroma_baseline", "coarse", "fine"]
    assert {"qmax", "same_queries_as_qmax"} <= set(metrics)
    tracks = pd.read_parquet(project / f"data/07_model_output/{NEW}/gallery_embeddings.parquet")
    assert sorted(tracks.perf_id) == sorted(listing.perf_id)  # every split is the gallery
    per_work = listing.work_id.value_counts()
    assert metrics["fine"]["n_queries"] == int(per_work[per_work > 1].sum())
    assert (project / f"data/06_models/{NEW}/gallery_index/gallery.faiss").is_file()
    assert not (project / f"data/06_models/{NEW}/fine_model").exists()  # nothing trained

    # The scored model is the training collection's: the index says which model built it.
    info = json.loads((project / f"data/06_models/{NEW}/gallery_index/info.json").read_text())
    trained = json.loads((project / "data/06_models/default/gallery_index/info.json").read_text())
    assert info["model_fingerprint"] == trained["model_fingerprint"]
    assert _snapshot(project) == before  # the training collection is untouched
    assert _registered_versions(project) == versions  # scoring elsewhere registers nothing


def test_inference_refuses_to_write_over_the_training_collection(project, tmp_path):
    _listing(project, tmp_path / "listing.csv")
    before = _snapshot(project)
    with inside(project), pytest.raises(ValueError, match="model_collection='default'"):
        run_session(project, ["inference"], _params(tmp_path / "listing.csv", "default"))
    assert _snapshot(project) == before
