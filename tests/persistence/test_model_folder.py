"""One model folder format: what the Kedro dataset, the training stage's MLflow artifacts and the
pyfunc write, each of the others loads."""

import json

import mlflow
import pytest
import torch
from kedro.io.core import DatasetError

from coverhunter.audio.cqt import CQTConfig
from coverhunter.datasets.model_dataset import CoverHunterModelDataset
from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.persistence.model_folder import (
    ModelFolderError,
    load_model_folder,
    save_model_folder,
)
from coverhunter.retrieval.gallery import ChunkSettings
from coverhunter.serving.pyfunc import ARTIFACT_KEY, CoverHunterEmbedder, write_model_folder
from coverhunter.training.stage import log_model_artifacts

LABELS = {"work_labels": ["w1", "w2", "w3"]}


def _model(seed: int = 0) -> CoverHunter:
    config = CoverHunterConfig(
        d_model=16, n_heads=2, ffn_dim=32, n_blocks=1, kernel_size=5, embedding_dim=8, n_classes=3
    )
    model = CoverHunter(config, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():  # weights off their initial values, so a wrong load shows
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(torch.rand(tensor.shape, generator=torch.Generator().manual_seed(7)))
    return model.eval()


def _same(a: CoverHunter, b: CoverHunter) -> bool:
    left, right = a.state_dict(), b.state_dict()
    return (
        a.config == b.config
        and left.keys() == right.keys()
        and all(torch.equal(left[k], right[k]) for k in left)
    )


def test_the_training_stage_artifacts_downloaded_from_mlflow_load_with_the_dataset(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # the run's artifact store lands here, not in the repository
    # a Kedro session earlier in this process may have left its experiment in the environment
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    model = _model()
    try:
        experiment = mlflow.create_experiment("model_folder")
        with mlflow.start_run(experiment_id=experiment) as run:
            log_model_artifacts(model, LABELS, "coarse_model")
    finally:
        mlflow.set_tracking_uri(None)
    downloaded = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id,
        artifact_path="coarse_model",
        dst_path=str(tmp_path / "download"),
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
    )
    loaded = CoverHunterModelDataset(filepath=downloaded).load()
    assert _same(loaded["model"], model) and loaded["metadata"] == LABELS


def test_the_pyfunc_folder_loads_with_the_dataset_and_a_dataset_folder_in_the_pyfunc(tmp_path):
    model = _model()
    write_model_folder(tmp_path / "pyfunc", model, LABELS, CQTConfig(), ChunkSettings(45.0, 1.0), 4)
    loaded = CoverHunterModelDataset(filepath=str(tmp_path / "pyfunc")).load()
    assert _same(loaded["model"], model) and loaded["metadata"] == LABELS

    CoverHunterModelDataset(filepath=str(tmp_path / "kedro")).save(
        {"model": model, "metadata": LABELS}
    )
    serving = (tmp_path / "pyfunc" / "serving.json").read_text()
    (tmp_path / "kedro" / "serving.json").write_text(serving)  # what log_and_register adds
    embedder = CoverHunterEmbedder()
    embedder.load_context(
        mlflow.pyfunc.PythonModelContext({ARTIFACT_KEY: str(tmp_path / "kedro")}, {})
    )
    assert _same(embedder.model, model)


def test_a_config_without_format_is_read_as_format_1_and_another_format_is_refused(tmp_path):
    save_model_folder(tmp_path / "m", _model(), LABELS)
    config_file = tmp_path / "m" / "config.json"
    document = json.loads(config_file.read_text())
    assert document["format"] == 1
    del document["format"]  # what the training stage and the pyfunc wrote before
    config_file.write_text(json.dumps(document))
    model, metadata = load_model_folder(tmp_path / "m")
    assert _same(model, _model()) and metadata == LABELS and not model.training

    config_file.write_text(json.dumps({**document, "format": 2}))
    with pytest.raises(DatasetError, match="unknown format 2"):
        CoverHunterModelDataset(filepath=str(tmp_path / "m")).load()


def test_weights_that_do_not_fit_the_config_are_named(tmp_path):
    save_model_folder(tmp_path / "m", _model(), {})
    config_file = tmp_path / "m" / "config.json"
    document = json.loads(config_file.read_text())
    document["config"]["embedding_dim"] = 4
    config_file.write_text(json.dumps(document))
    with pytest.raises(ModelFolderError, match=r"m/model\.safetensors"):
        load_model_folder(tmp_path / "m")
