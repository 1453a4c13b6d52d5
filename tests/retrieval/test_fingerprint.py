"""A model's fingerprint: equal for equal weights and settings, different otherwise."""

import torch

from coverhunter.retrieval.fingerprint import model_fingerprint


def _model(seed: int) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    with torch.no_grad():
        model[0].weight.copy_(torch.randn(2, 3, generator=generator))
        model[0].bias.copy_(torch.randn(2, generator=generator))
    return model


def test_same_weights_same_fingerprint_and_any_change_shows():
    a, b = _model(0), _model(0)
    assert model_fingerprint(a) == model_fingerprint(b)
    assert len(model_fingerprint(a)) == 32
    assert model_fingerprint(a, {"x": 1}) != model_fingerprint(a, {"x": 2})
    with torch.no_grad():
        b[0].bias[1] += 1e-6
    assert model_fingerprint(a) != model_fingerprint(b)
    c = _model(0)
    c[1].num_batches_tracked += 1  # buffers count too
    assert model_fingerprint(a) != model_fingerprint(c)
