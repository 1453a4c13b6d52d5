"""coarse_training, alignment and fine_training after the shared tiny default run."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from kedro.io.core import Version
from matplotlib.image import imread
from project_helpers import run_session
from trained_project import _TRAINING, TINY_MODEL, inside, trained_params, trained_project_copy

from coverhunter.data.feature_store import FeatureStore
from coverhunter.datasets import CoverHunterModelDataset
from coverhunter.evaluation.collection import EmbedSettings, TrackSet, score_embedder
from coverhunter.evaluation.plots import offset_histogram
from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig

ALIGNED_COLUMNS = [
    "work_id",
    "perf_a",
    "perf_b",
    "start_a_s",
    "start_b_s",
    "offset_s",
    "n_matches",
    "similarity",
]
# "A clear margin" (issue 4): validation mAP points the coarse model gains over an untrained one.
MARGIN = 0.05


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return trained_project_copy(tmp_path_factory, "training")


def _model(project, stage):
    folder = project / "data/06_models/default" / f"{stage}_model"
    versions = sorted(folder.iterdir())
    assert len(versions) == 1  # versioned: one timestamped folder per run
    return CoverHunterModelDataset(filepath=str(folder), version=Version(None, None)).load()


def _features(project, perf_ids):
    store = FeatureStore(project / "data/04_feature/default/cqt_store")
    return {p: np.asarray(store[p], dtype=np.float32) for p in perf_ids}


def test_coarse_model_is_saved_with_its_config_and_history(project):
    coarse = _model(project, "coarse")
    assert isinstance(coarse["model"], CoverHunter)
    assert coarse["model"].config.d_model == TINY_MODEL["d_model"]
    manifest = pd.read_parquet(project / "data/02_intermediate/default/manifest.parquet")
    trainable_works = sorted(manifest[manifest.trainable].work_id.unique())
    assert coarse["metadata"]["work_labels"] == trainable_works
    history = pd.read_parquet(project / "data/08_reporting/default/coarse_training_history.parquet")
    for column in ("loss/total", "loss/focal", "loss/center", "loss/triplet", "lr", "val/mAP"):
        assert column in history
    assert history.step.is_monotonic_increasing and history.step.max() == _TRAINING["max_steps"]


def test_every_loss_term_and_the_model_reach_mlflow(project):
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project}/mlflow.db")
    experiment = client.get_experiment_by_name("coverhunter")
    (run,) = client.search_runs([experiment.experiment_id])
    for stage in ("coarse", "fine"):
        for name in ("loss/focal", "loss/center", "loss/triplet", "loss/total", "val/mAP"):
            history = client.get_metric_history(run.info.run_id, f"{stage}/{name}")
            assert history, f"{stage}/{name} not logged"
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, f"{stage}_model")}
        assert artifacts == {f"{stage}_model/config.json", f"{stage}_model/model.safetensors"}
    assert run.data.params["coarse_training.training.max_steps"] == str(_TRAINING["max_steps"])


def test_the_coarse_model_learned(project):
    """Validation works (never trained on): trained mAP beats an untrained model's by a margin."""
    manifest = pd.read_parquet(project / "data/02_intermediate/default/manifest.parquet")
    val = manifest[manifest.split == "val"]
    tracks = TrackSet(list(val.perf_id), list(val.work_id), _features(project, val.perf_id))
    coarse = _model(project, "coarse")["model"]
    untrained = CoverHunter(
        CoverHunterConfig(**{**coarse.config.to_dict(), "n_classes": 0}),
        generator=torch.Generator().manual_seed(0),
    ).eval()
    score = {
        name: score_embedder(model.embed, tracks, EmbedSettings(1125, 25.0, min_tail_frames=250))[
            "mAP"
        ]
        for name, model in (("coarse", coarse), ("untrained", untrained))
    }
    assert score["coarse"] >= score["untrained"] + MARGIN, score


def test_aligned_pairs_follow_the_contract(project):
    pairs = pd.read_parquet(project / "data/07_model_output/default/aligned_pairs.parquet")
    unaligned = pd.read_parquet(project / "data/07_model_output/default/unaligned_pairs.parquet")
    manifest = pd.read_parquet(project / "data/02_intermediate/default/manifest.parquet")
    assert list(pairs.columns) == ALIGNED_COLUMNS
    work_of = dict(zip(manifest.perf_id, manifest.work_id, strict=True))
    assert (pairs.perf_a.map(work_of) == pairs.work_id).all()
    assert (pairs.perf_b.map(work_of) == pairs.work_id).all()
    assert (pairs.perf_a < pairs.perf_b).all()
    hop_s = round(7.5 * 25) / 25
    assert np.allclose(pairs.offset_s / hop_s, np.round(pairs.offset_s / hop_s))
    assert np.allclose(pairs.start_b_s - pairs.start_a_s, pairs.offset_s)
    report = json.loads((project / "data/08_reporting/default/alignment_report.json").read_text())
    # threshold: auto, the 0.995 quantile of the similarities between chunks of different works
    chunks = pd.read_parquet(
        project / "data/07_model_output/default/chunk_embeddings_coarse.parquet"
    )
    vectors = np.stack(chunks.embedding.to_numpy())
    across = chunks.work_id.to_numpy()[:, None] != chunks.work_id.to_numpy()[None, :]
    exact = np.quantile((vectors @ vectors.T)[across], 0.995)
    assert report["threshold"] == pytest.approx(exact, abs=0.02)
    assert (pairs.similarity > report["threshold"]).all() and (pairs.n_matches >= 1).all()
    trainable = manifest[manifest.trainable].groupby("work_id").size()
    assert len(pairs) + len(unaligned) == int((trainable * (trainable - 1) // 2).sum())

    assert report["pairs_tried"] == len(pairs) + len(unaligned)
    assert report["pairs_aligned"] == len(pairs)
    # the figure as the catalog saves it (6 x 4 inches at dpi 110), and what it draws
    histogram = imread(project / "data/08_reporting/default/alignment_offset_histogram.png")
    assert histogram.shape[:2] == (440, 660)
    bars = offset_histogram(pairs.offset_s).axes[0].patches  # what that figure draws
    assert sum(bar.get_height() for bar in bars) == len(pairs)
    assert len(bars) == pairs.offset_s.nunique()


def test_fine_model_trains_on_aligned_pairs_and_is_not_worse_than_coarse(project):
    fine = _model(project, "fine")
    pairs = pd.read_parquet(project / "data/07_model_output/default/aligned_pairs.parquet")
    assert fine["metadata"]["stage"] == "fine"
    assert fine["metadata"]["aligned_pairs"] == len(pairs)
    metrics = json.loads(
        (project / "data/08_reporting/default/evaluation_metrics.json").read_text()
    )
    # "Not worse" up to one query: a single query's AP moves the mean by at most 1 / n_queries.
    one_query = 1.0 / metrics["fine"]["n_queries"]
    assert metrics["fine"]["mAP"] >= metrics["coarse"]["mAP"] - one_query, metrics


def _coarse_from(project, start_folder, **model_overrides):
    """The coarse stage once more, from the model in `start_folder` (init: pretrained), two steps
    at a learning rate of 1e-12, so the weights it saves are (to 1e-9) the ones it started from."""
    params = trained_params()
    params["coarse_training"] = {
        **params["coarse_training"],
        "init": "pretrained",
        "model": {**TINY_MODEL, **model_overrides},
        "training": {**_TRAINING, "max_steps": 2, "lr": 1e-12, "validate_every": 0},
        "checkpoint_dir": str(project / "data/06_models/default/checkpoints/from_pretrained"),
    }
    with inside(project):
        run_session(project, ["coarse_training"], params)


def test_the_coarse_stage_starts_from_the_shipped_model_but_its_classifier(project):
    start = _model(project, "coarse")
    shipped = project / "src/coverhunter/pretrained/base"  # the catalog's `pretrained_model`
    CoverHunterModelDataset(filepath=str(shipped)).save(start)
    _coarse_from(project, shipped)
    folder = project / "data/06_models/default/coarse_model"
    latest = sorted(folder.iterdir())[-1].name
    started = CoverHunterModelDataset(str(folder), version=Version(latest, None)).load()
    assert started["metadata"]["init"] == "pretrained"
    expected = dict(start["model"].named_parameters())
    for name, weight in started["model"].named_parameters():
        if name.startswith("classifier"):  # the shipped model's classes are other works
            assert not torch.allclose(weight, expected[name], atol=1e-3), "classifier copied"
        else:
            assert torch.allclose(weight, expected[name], atol=1e-9, rtol=0), name

    with pytest.raises(ValueError, match=r"d_model 32 \(the start model's: 64\)"):
        _coarse_from(project, shipped, d_model=32, n_heads=2)
    for item in shipped.iterdir():
        item.unlink()
    shipped.rmdir()
    with pytest.raises(ValueError, match="pretrained/base holds no model"):
        _coarse_from(project, shipped)
