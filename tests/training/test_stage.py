"""Starting a stage from another model: what is copied, and which settings must agree."""

import pytest
import torch

from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.training.stage import check_same_architecture, warm_start

SMALL = {"d_model": 16, "n_heads": 2, "ffn_dim": 32, "n_blocks": 1, "kernel_size": 5}


def _model(seed: int, n_classes: int, **overrides) -> CoverHunter:
    config = CoverHunterConfig(**{**SMALL, **overrides}, embedding_dim=8, n_classes=n_classes)
    return CoverHunter(config, generator=torch.Generator().manual_seed(seed))


def test_warm_start_copies_all_but_the_skipped_classifier_of_other_works():
    source, model = _model(1, 5), _model(2, 5)
    fresh_classifier = model.classifier.weight.detach().clone()
    untouched = warm_start(model, source, skip=("classifier",))
    assert untouched == ["classifier.weight"]
    assert torch.equal(model.classifier.weight, fresh_classifier)
    for name, tensor in source.state_dict().items():
        if not name.startswith("classifier"):
            assert torch.equal(model.state_dict()[name], tensor), name
    assert warm_start(_model(3, 5), source) == []  # the same works: everything is copied


def test_a_classifier_of_another_size_is_left_whatever_the_skip():
    assert warm_start(_model(2, 7), _model(1, 5)) == ["classifier.weight"]


def test_the_stage_must_ask_for_the_architecture_it_starts_from():
    start = _model(1, 5).config
    check_same_architecture(start, {**SMALL, "embedding_dim": 8})  # n_classes may differ
    with pytest.raises(ValueError, match=r"d_model 32 \(the start model's: 16\).*init: scratch"):
        check_same_architecture(start, {**SMALL, "d_model": 32, "embedding_dim": 8})
