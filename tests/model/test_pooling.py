import pytest
import torch

from coverhunter.model.pooling import (
    AttentiveStatisticsPooling,
    GeMPooling,
    MeanPooling,
    build_pooling,
)


def _padded(x: torch.Tensor, extra: int, generator: torch.Generator) -> torch.Tensor:
    """x (1,T,C) followed by ``extra`` frames of large garbage."""
    garbage = 100 * torch.randn(1, extra, x.shape[2], generator=generator)
    return torch.cat([x, garbage], dim=1)


@pytest.mark.parametrize("kind,out_dim", [("attentive", 8), ("gem", 4), ("mean", 4)])
def test_padding_leaves_pooled_vector_unchanged(kind, out_dim):
    generator = torch.Generator().manual_seed(1)
    pooling = build_pooling(kind, 4, mask_prob=0.5).eval()
    x = torch.randn(1, 5, 4, generator=generator)
    padded = _padded(x, 3, generator)
    alone = pooling(x, torch.zeros(1, 5, dtype=torch.bool))
    with_padding = pooling(padded, torch.tensor([[False] * 5 + [True] * 3]))
    assert alone.shape == (1, out_dim) == (1, pooling.out_dim)
    assert torch.allclose(alone, with_padding, atol=1e-6)


def test_mean_pooling_averages_valid_frames():
    x = torch.tensor([[[1.0, 2.0], [3.0, 6.0], [99.0, 99.0]]])
    out = MeanPooling(2)(x, torch.tensor([[False, False, True]]))
    assert torch.allclose(out, torch.tensor([[2.0, 4.0]]))


def test_gem_with_p_1_is_mean_and_large_p_approaches_max():
    x = torch.tensor([[[1.0], [3.0]]])
    no_padding = torch.zeros(1, 2, dtype=torch.bool)
    assert torch.allclose(GeMPooling(1, p=1.0)(x, no_padding), torch.tensor([[2.0]]))
    # p = 2: sqrt((1 + 9) / 2) = sqrt(5).
    assert torch.allclose(GeMPooling(1, p=2.0)(x, no_padding), torch.tensor([[5.0**0.5]]))


def test_attentive_pooling_with_uniform_attention_gives_mean_and_std():
    pooling = AttentiveStatisticsPooling(1)
    torch.nn.init.zeros_(pooling.conv.weight)  # every frame gets the same logit
    torch.nn.init.zeros_(pooling.conv.bias)
    x = torch.tensor([[[1.0], [3.0], [5.0], [42.0]]])
    out = pooling(x, torch.tensor([[False, False, False, True]]))
    # Frames 1, 3, 5: mean 3, population variance 8/3.
    assert torch.allclose(out, torch.tensor([[3.0, (8 / 3) ** 0.5]]), atol=1e-5)


def test_random_mask_acts_in_training_only_and_never_empties_a_channel():
    generator = torch.Generator().manual_seed(2)
    pooling = AttentiveStatisticsPooling(4, mask_prob=0.9)
    x = torch.randn(3, 6, 4, generator=generator)
    mask = torch.tensor([[False] * 6, [False] * 2 + [True] * 4, [False] + [True] * 5])
    pooling.eval()
    reference = pooling(x, mask)
    assert torch.equal(reference, pooling(x, mask))
    pooling.train()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        masked = pooling(x, mask)
    assert torch.isfinite(masked).all()
    assert not torch.allclose(masked[0], reference[0])
    # One valid frame: nothing can be masked, so mean = that frame and std = floor.
    assert torch.allclose(masked[2], reference[2])


def test_unknown_pooling_is_named():
    with pytest.raises(ValueError, match="pooling='max'"):
        build_pooling("max", 4)
    with pytest.raises(ValueError, match="mask_prob=1.0"):
        AttentiveStatisticsPooling(4, mask_prob=1.0)
