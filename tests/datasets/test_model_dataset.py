import json

import pytest
import torch
from kedro.io.core import DatasetError, Version

from coverhunter.datasets.model_dataset import CoverHunterModelDataset
from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig


def _model(seed: int, **overrides) -> CoverHunter:
    config = CoverHunterConfig(
        **overrides,
        d_model=16,
        n_heads=2,
        ffn_dim=32,
        n_blocks=1,
        kernel_size=5,
        embedding_dim=8,
        n_classes=3,
        dropout=0.0,
        pool_mask_prob=0.0,  # the train-mode pass below must be deterministic
    )
    model = CoverHunter(config, generator=torch.Generator().manual_seed(seed))
    # Move the BatchNorm running statistics off their defaults so the round trip must carry them.
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 30, 96, generator=torch.Generator().manual_seed(seed)),
              torch.tensor([30, 25, 20, 30]))  # fmt: skip
    return model.eval()


def _embed(model: CoverHunter) -> torch.Tensor:
    cqt = torch.randn(2, 40, 96, generator=torch.Generator().manual_seed(9))
    with torch.inference_mode():
        return model.embed(cqt, torch.tensor([40, 33]))


@pytest.mark.parametrize(
    "front_end", [{}, {"front_end": "chroma_lags", "chroma_lags": [0, 3], "input_pool": 2}]
)
def test_round_trip_gives_identical_embeddings_and_metadata(tmp_path, front_end):
    model = _model(0, **front_end)
    dataset = CoverHunterModelDataset(filepath=str(tmp_path / "coarse_model"))
    dataset.save({"model": model, "metadata": {"work_labels": ["w1", "w2", "w3"]}})
    assert sorted(p.name for p in (tmp_path / "coarse_model").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    loaded = dataset.load()
    assert loaded["metadata"] == {"work_labels": ["w1", "w2", "w3"]}
    assert loaded["model"].config == model.config and not loaded["model"].training
    assert torch.equal(_embed(loaded["model"]), _embed(model))
    document = json.loads((tmp_path / "coarse_model" / "config.json").read_text())
    assert document["config"]["d_model"] == 16


def test_unversioned_save_replaces_the_model(tmp_path):
    dataset = CoverHunterModelDataset(filepath=str(tmp_path / "m"))
    dataset.save({"model": _model(0), "metadata": {}})
    dataset.save({"model": _model(1), "metadata": {}})
    assert torch.equal(_embed(dataset.load()["model"]), _embed(_model(1)))


def test_versioned_saves_keep_every_version(tmp_path):
    path = str(tmp_path / "fine_model")
    first, second = "2024-01-01T00.00.00.000Z", "2024-01-02T00.00.00.000Z"
    CoverHunterModelDataset(path, version=Version(None, first)).save({"model": _model(0)})
    CoverHunterModelDataset(path, version=Version(None, second)).save({"model": _model(1)})
    assert (tmp_path / "fine_model" / first / "fine_model" / "model.safetensors").is_file()
    latest = CoverHunterModelDataset(path, version=Version(None, None))
    assert latest.list_versions(full_path=False) == [second, first]
    assert torch.equal(_embed(latest.load()["model"]), _embed(_model(1)))
    pinned = CoverHunterModelDataset(path, version=Version(first, None)).load()
    assert torch.equal(_embed(pinned["model"]), _embed(_model(0)))
    assert pinned["metadata"] == {}
    with pytest.raises(DatasetError, match="must not exist"):
        CoverHunterModelDataset(path, version=Version(None, first)).save({"model": _model(2)})


def test_bad_input_is_named(tmp_path):
    dataset = CoverHunterModelDataset(filepath=str(tmp_path / "m"))
    assert not dataset.exists()
    with pytest.raises(DatasetError, match="lacks model.safetensors"):
        dataset.load()
    with pytest.raises(DatasetError, match="JSON serialisable"):
        dataset.save({"model": _model(0), "metadata": {"labels": {1, 2}}})
    with pytest.raises(DatasetError, match="got model of type dict"):
        dataset.save({"model": {}, "metadata": {}})
    assert not dataset.exists()


def test_a_model_a_run_may_start_from_loads_as_none_when_absent_but_not_when_broken(tmp_path):
    absent = CoverHunterModelDataset(str(tmp_path / "pretrained"), missing_ok=True).load()
    assert absent["model"] is None and absent["path"] == str(tmp_path / "pretrained")
    with pytest.raises(DatasetError, match="lacks"):
        CoverHunterModelDataset(str(tmp_path / "pretrained")).load()  # without missing_ok
    (tmp_path / "pretrained").mkdir()  # there, but not a whole model: an error, never None
    with pytest.raises(DatasetError, match="lacks"):
        CoverHunterModelDataset(str(tmp_path / "pretrained"), missing_ok=True).load()
    CoverHunterModelDataset(str(tmp_path / "whole")).save({"model": _model(1), "metadata": {}})
    whole = CoverHunterModelDataset(str(tmp_path / "whole"), missing_ok=True).load()
    assert torch.equal(_embed(whole["model"]), _embed(_model(1)))
