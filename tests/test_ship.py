"""`serving/ship.py`: a trained model folder copied as the package's, with its weights' hash."""

import json

import pytest
import torch

from coverhunter.datasets import CoverHunterModelDataset
from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.persistence.model_folder import CONFIG_FILE, ModelFolderError, save_model_folder
from coverhunter.serving.card import (
    CARD_FILE,
    CardError,
    facts_agree,
    measured_facts,
    stated_facts,
    weights_sha256,
)
from coverhunter.serving.ship import ship, write_card_facts


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


def test_shipping_writes_the_card_facts_and_they_measure_again(tmp_path):
    _trained(tmp_path / "trained")
    target = tmp_path / "pretrained"
    target.mkdir()
    (target / CARD_FILE).write_text("# A model\n\nTrained on nothing, for a test.\n")
    ship(tmp_path / "trained", target)
    facts = write_card_facts(target)
    card = (target / CARD_FILE).read_text()
    assert card.startswith("# A model\n\nTrained on nothing, for a test.\n")
    assert f"weights sha256: `{weights_sha256(target)}`" in card
    assert 0.0 < facts["slice_map"] <= 1.0
    # measured again from scratch (a new render of the slice, a new load of the weights)
    assert facts_agree(stated_facts(target / CARD_FILE), measured_facts(target)) == []
    # writing again replaces the facts' lines rather than adding a second set
    write_card_facts(target)
    assert (target / CARD_FILE).read_text().count("slice mAP:") == 1


def test_changed_weights_no_longer_agree_with_their_card(tmp_path):
    model = _trained(tmp_path / "trained")
    target = tmp_path / "pretrained"
    ship(tmp_path / "trained", target)
    write_card_facts(target)
    stated = stated_facts(target / CARD_FILE)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    save_model_folder(target, model, {})
    problems = facts_agree(stated, measured_facts(target))
    assert [p.split(":")[0] for p in problems] == ["weights_sha256", "slice_map"]


def test_a_card_that_leaves_a_fact_out_is_refused_by_name(tmp_path):
    card = tmp_path / CARD_FILE
    card.write_text("# A model\n\nparameters: 1,234\nfront end: `cqt`\n")
    with pytest.raises(CardError, match=r"MODEL_CARD.md does not state weights sha256, slice mAP"):
        stated_facts(card)
