"""Inference-only shortcuts of the Conformer give the training path's values."""

import torch

from coverhunter.model.conformer import masked_batch_norm, relative_to_absolute


def test_relative_shift_view_equals_the_gather_used_in_training():
    scores = torch.randn(2, 3, 4, 7, generator=torch.Generator().manual_seed(0))  # (B,H,T,2T-1)
    view = relative_to_absolute(scores)  # no grad: a strided view
    gathered = relative_to_absolute(scores.clone().requires_grad_()).detach()
    assert torch.equal(view, gathered)
    # out[i, j] = scores[i, T-1-i+j]: i=3, j=0 reads column 0; i=0, j=3 reads column 6
    assert view[1, 2, 3, 0] == scores[1, 2, 3, 0] and view[1, 2, 0, 3] == scores[1, 2, 0, 6]


def test_eval_batch_norm_uses_running_statistics_and_zeroes_padding():
    norm = torch.nn.BatchNorm1d(1, affine=False, eps=0.0).eval()
    norm.running_mean.fill_(2.0)
    norm.running_var.fill_(4.0)
    x = torch.tensor([[[1.0], [3.0], [1000.0]]])  # third frame is padding
    out = masked_batch_norm(norm, x, torch.tensor([[False, False, True]]))
    assert out[0, :, 0].tolist() == [-0.5, 0.5, 0.0]  # (x - 2) / sqrt(4), padding zeroed
    assert norm.running_mean.item() == 2.0  # eval: statistics untouched
