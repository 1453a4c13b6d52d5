import pytest
import torch
from torch import nn

from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.retrieval.quantize import (
    autocast_embed,
    cosine_agreement,
    quantize_linear_int8,
)


@pytest.fixture(scope="module")
def model():
    config = CoverHunterConfig(d_model=32, n_heads=2, ffn_dim=64, n_blocks=1, embedding_dim=16)
    return CoverHunter(config, generator=torch.Generator().manual_seed(0)).eval()


@pytest.fixture(scope="module")
def chunks():
    generator = torch.Generator().manual_seed(1)
    cqt = torch.randn(4, 60, 96, generator=generator)
    return cqt, torch.tensor([60, 60, 45, 30])


def test_cosine_agreement_is_the_worst_row():
    reference = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    other = torch.tensor([[1.0, 0.0], [0.6, 0.8]])  # second row at cos 0.8
    assert cosine_agreement(reference, other) == pytest.approx(0.8)
    assert cosine_agreement(reference, reference) == pytest.approx(1.0)


def test_cosine_agreement_rejects_mismatched_or_unnormalised_rows():
    unit = torch.tensor([[1.0, 0.0]])
    with pytest.raises(ValueError, match="shapes differ"):
        cosine_agreement(unit, torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="other must be L2-normalised"):
        cosine_agreement(unit, torch.tensor([[2.0, 0.0]]))


def test_int8_copy_replaces_every_linear_and_leaves_the_original(model, chunks):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    quantized = quantize_linear_int8(model)
    assert not any(type(m) is nn.Linear for m in quantized.modules())
    assert any(type(m) is nn.Linear for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with torch.inference_mode():
        reference, approx = model.embed(*chunks), quantized.embed(*chunks)
    agreement = cosine_agreement(reference, approx)
    assert 0.99 < agreement < 1.0  # close, but really quantised


def test_bfloat16_autocast_returns_float32_close_to_the_model(model, chunks):
    embed = autocast_embed(model.embed)
    with torch.inference_mode():
        reference, approx = model.embed(*chunks), embed(*chunks)
    assert approx.dtype == torch.float32 and approx.shape == (4, 16)
    assert cosine_agreement(reference, approx) > 0.99


def test_autocast_rejects_other_dtypes(model):
    with pytest.raises(ValueError, match="float64"):
        autocast_embed(model.embed, dtype=torch.float64)
