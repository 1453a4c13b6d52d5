"""Two-process gloo training, run by test_distributed.py as a script (spawn needs importable
functions, which pytest's importlib mode does not give test modules).

Usage: python ddp_worker.py OUT_DIR
Writes OUT_DIR/rank{r}.pt (model and loss state after training) and OUT_DIR/init.pt.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.model.losses import CoverHunterLoss, LossConfig
from coverhunter.training.config import TrainingConfig
from coverhunter.training.distributed import run_distributed
from coverhunter.training.loop import train

N_WORKS, K_ITEMS, FRAMES, N_BINS = 4, 2, 32, 96


@dataclass
class Batch:
    cqt: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor


class Batches:
    """Global batch of 4 works x 2 chunks from (step); each rank takes whole works."""

    n_classes = N_WORKS
    class_counts = torch.ones(N_WORKS)

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> Batch:
        generator = torch.Generator().manual_seed(step)
        labels = torch.arange(N_WORKS).repeat_interleave(K_ITEMS)
        cqt = torch.randn(len(labels), FRAMES, N_BINS, generator=generator)
        cqt += labels.view(-1, 1, 1) * torch.linspace(-1, 1, N_BINS)
        lengths = torch.randint(16, FRAMES + 1, (len(labels),), generator=generator)
        per_rank = len(labels) // world_size
        rows = slice(rank * per_rank, (rank + 1) * per_rank)
        return Batch(cqt[rows], lengths[rows], labels[rows])


def build() -> tuple[CoverHunter, CoverHunterLoss]:
    config = CoverHunterConfig(
        d_model=16, n_heads=2, ffn_dim=32, n_blocks=1, kernel_size=5, embedding_dim=8,
        n_classes=N_WORKS,
    )  # fmt: skip
    model = CoverHunter(config, generator=torch.Generator().manual_seed(0))
    loss_fn = CoverHunterLoss(
        LossConfig(), N_WORKS, 8, Batches.class_counts, torch.Generator().manual_seed(1)
    )
    return model, loss_fn


def fit(rank: int, world_size: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    # Ranks start from different weights on purpose: DDP must broadcast rank 0's.
    model, loss_fn = build()
    if rank == 1:
        with torch.no_grad():
            for parameter in [*model.parameters(), *loss_fn.parameters()]:
                parameter.add_(1.0)
    config = TrainingConfig(max_steps=3, checkpoint_every=0, validate_every=1, device="cpu")
    result = train(
        model, loss_fn, Batches(), config,
        checkpoint_dir=Path(out_dir) / "checkpoints",
        validate=lambda m: float(rank),
    )  # fmt: skip
    state = {
        **result.model.state_dict(),
        **{f"loss.{k}": v for k, v in loss_fn.state_dict().items()},
    }
    torch.save({"state": state, "history": result.history}, Path(out_dir) / f"rank{rank}.pt")


if __name__ == "__main__":
    out = sys.argv[1]
    model, loss_fn = build()
    initial = {**model.state_dict(), **{f"loss.{k}": v for k, v in loss_fn.state_dict().items()}}
    torch.save(initial, Path(out) / "init.pt")
    run_distributed(fit, 2, out, backend="gloo")
