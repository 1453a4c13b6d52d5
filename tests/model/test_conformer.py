import pytest
import torch

from coverhunter.model.conformer import (
    Conformer,
    lengths_to_padding_mask,
    masked_batch_norm,
    relative_to_absolute,
)


def test_padding_mask_marks_frames_at_or_past_length():
    mask = lengths_to_padding_mask(torch.tensor([3, 1]), 4)
    assert mask.tolist() == [[False, False, False, True], [False, True, True, True]]


def test_relative_to_absolute_picks_offset_i_minus_j():
    frames = 3
    # Column c holds offset T-1-c, so offsets are 2, 1, 0, -1, -2; store the offset itself.
    offsets = torch.arange(frames - 1, -frames, -1).float()
    scores = offsets.expand(frames, -1)  # (T,2T-1)
    expected = torch.tensor([[0.0, -1, -2], [1, 0, -1], [2, 1, 0]])  # i - j
    assert torch.equal(relative_to_absolute(scores), expected)


def test_masked_batch_norm_ignores_padded_frames_and_zeroes_them():
    norm = torch.nn.BatchNorm1d(1, affine=False)
    x = torch.tensor([[[1.0], [3.0], [1000.0]]])  # third frame is padding
    out = masked_batch_norm(norm, x, torch.tensor([[False, False, True]]))
    # Valid frames 1 and 3: mean 2, biased variance 1.
    assert torch.allclose(out[0, :, 0], torch.tensor([-1.0, 1.0, 0.0]), atol=1e-4)
    assert torch.allclose(norm.running_mean, torch.tensor([0.2]))  # momentum 0.1 towards 2


@pytest.mark.parametrize("positional_encoding", ["relative", "none"])
def test_valid_frames_do_not_depend_on_padding(positional_encoding):
    generator = torch.Generator().manual_seed(0)
    encoder = Conformer(16, 2, 32, 2, 5, positional_encoding=positional_encoding).eval()
    x = torch.randn(1, 9, 16, generator=generator)
    padded = torch.cat([x, 50 * torch.randn(1, 6, 16, generator=generator)], dim=1)
    with torch.inference_mode():
        alone, _ = encoder(x, torch.tensor([9]))
        with_padding, lengths = encoder(padded, torch.tensor([9]))
    assert lengths.tolist() == [9]
    assert torch.allclose(alone, with_padding[:, :9], atol=1e-5)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="depthwise_conv_kernel_size=4"):
        Conformer(16, 2, 32, 1, 4)
    with pytest.raises(ValueError, match="num_heads=3"):
        Conformer(16, 3, 32, 1, 5)
    with pytest.raises(ValueError, match="positional_encoding='absolute'"):
        Conformer(16, 2, 32, 1, 5, positional_encoding="absolute")
