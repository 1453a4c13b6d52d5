"""The optimizer (training/optimizer.py): which tensors decay, and one fused step over all."""

import torch
from torch import nn

from coverhunter.training.config import TrainingConfig
from coverhunter.training.optimizer import build_optimizer


class _Centers(nn.Module):
    def __init__(self):
        super().__init__()
        self.centers = nn.Parameter(torch.randn(5, 3))


def test_weight_matrices_decay_biases_and_centers_do_not_and_the_step_is_fused():
    model = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    optimizer = build_optimizer(model, _Centers(), TrainingConfig(weight_decay=0.1, device="cpu"))
    decay, no_decay = optimizer.param_groups
    assert [p.shape for p in decay["params"]] == [(3, 4)] and decay["weight_decay"] == 0.1
    assert len(no_decay["params"]) == 4 and no_decay["weight_decay"] == 0.0  # 3 vectors, centers
    assert optimizer.defaults["fused"]

    # the fused step is AdamW's: the same parameters as torch's loop over the tensors
    reference = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    reference.load_state_dict(model.state_dict())
    loop = torch.optim.AdamW(
        [
            {"params": [reference[0].weight], "weight_decay": 0.1},
            {"params": [reference[0].bias, *reference[1].parameters()], "weight_decay": 0.0},
        ],
        lr=TrainingConfig().lr,
        betas=TrainingConfig().betas,
        foreach=False,
    )
    x = torch.randn(8, 4)
    for net, opt in ((model, optimizer), (reference, loop)):
        for _ in range(3):
            net(x).square().sum().backward()
            opt.step()
            opt.zero_grad()
    for mine, theirs in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs)
