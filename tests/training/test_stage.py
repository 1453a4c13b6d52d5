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


def test_a_warm_start_has_its_own_checkpoint_and_scratch_keeps_its_old_one():
    """The fingerprint names a checkpoint: a run from another start model, or with another head,
    must not resume it; a run from scratch names it as before warm starts were part of it."""
    from coverhunter.training.checkpoint import run_fingerprint, start_identity
    from coverhunter.training.config import TrainingConfig

    def fingerprint(start=None):
        return run_fingerprint(
            {"d": 1}, {"w": 2}, TrainingConfig(max_steps=3), [1.0, 2.0], 1, start
        )

    one, other = _model(1, 5), _model(2, 5)
    assert start_identity(one, "imprint") == start_identity(_model(1, 5), "imprint")
    prints = {
        fingerprint(),
        fingerprint(start_identity(one, "random")),
        fingerprint(start_identity(one, "imprint")),
        fingerprint(start_identity(other, "random")),
    }
    assert len(prints) == 4
    # measured with the code before warm starts entered the fingerprint: runs from scratch
    # under way then still find their checkpoints
    assert fingerprint() == "74cb84a6cc9a76953c23e218d8f642c7ce4e3da4f8ae3ff2ebbd3e4a5eb83fbc"
