"""`serving/ship.py`: a trained model folder copied as the package's, with its weights' hash."""

import json

import pytest
import torch

from coverhunter.datasets import CoverHunterModelDataset
from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.persistence.model_folder import CONFIG_FILE, ModelFolderError
from coverhunter.serving.ship import CARD_FILE, ship, weights_sha256


def _trained(folder):
    config = CoverHunterConfig(
        d_model=16, n_heads=2, ffn_dim=32, n_blocks=1, kernel_size=5, embedding_dim=8, n_classes=3
    )
    model = CoverHunter(config, generator=torch.Generator().manual_seed(3)).eval()
    CoverHunterModelDataset(str(folder)).save({"model": model, "metadata": {"stage": "coarse"}})
    return model


def test_the_shipped_copy_states_the_hash_of_its_own_weights_and_keeps_the_card(tmp_path):
    model = _trained(tmp_path / "trained")
    target = tmp_path / "pretrained"
    target.mkdir()
    (target / CARD_FILE).write_text("card")
    sha = ship(tmp_path / "trained", target, note="test")
    assert sha == weights_sha256(target)
    metadata = json.loads((target / CONFIG_FILE).read_text())["metadata"]
    assert metadata == {
        "stage": "coarse",
        "weights_sha256": sha,
        "shipped_from": str(tmp_path / "trained"),
        "note": "test",
    }
    assert (target / CARD_FILE).read_text() == "card"
    shipped = CoverHunterModelDataset(str(target)).load()["model"]
    for (name, ours), theirs in zip(
        shipped.state_dict().items(), model.state_dict().values(), strict=True
    ):
        assert torch.equal(ours, theirs), name


def test_a_folder_that_is_not_a_model_is_refused_by_name(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFolderError, match="empty lacks"):
        ship(tmp_path / "empty", tmp_path / "pretrained")
    assert not (tmp_path / "pretrained").exists()
