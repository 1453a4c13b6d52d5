"""The optimizer step of a training step: AdamW over the model, its classifier and the center
loss's centers, as torch's loop over tensors, its multi-tensor (`foreach`) form and one fused
kernel (what `training/optimizer.py` builds where torch has it).

    .venv/bin/python benchmarks/optimizer_step.py [--classes 1000 9700] [--threads 1]

The model is conf/base's (the shipped architecture); the classifier and the centers grow with the
works trained on, and every step updates all of them (most rows with zero gradients). One real
backward fills the gradients; then only `optimizer.step()` is timed (median of `--repeats`).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import yaml
from query_latency import machine_header, print_table

from coverhunter.model.losses import CoverHunterLoss, LossConfig
from coverhunter.training.stage import build_model

CONF = Path(__file__).resolve().parents[1] / "conf/base/parameters_coarse_training.yml"
VARIANTS = {"loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}


def step_ms(n_classes: int, variant: str, repeats: int) -> tuple[float, int]:
    """Median ms of one AdamW step, and the parameters it updates."""
    coarse = yaml.safe_load(CONF.read_text())["coarse_training"]
    model = build_model(coarse["model"], n_classes, 0).train()
    loss_fn = CoverHunterLoss(
        LossConfig(**coarse["loss"]),
        n_classes,
        model.config.embedding_dim,
        torch.ones(n_classes),
        generator=torch.Generator().manual_seed(1),
    )
    params = [*model.parameters(), *loss_fn.parameters()]
    optimizer = torch.optim.AdamW(params, lr=1e-3, **VARIANTS[variant])
    generator = torch.Generator().manual_seed(0)
    cqt = torch.randn(32, 375, 96, generator=generator) * 10 - 40
    labels = torch.randperm(n_classes, generator=generator)[:8].repeat_interleave(4)
    total, _ = loss_fn(model(cqt, torch.full((32,), 375)), labels)
    total.backward()
    for _ in range(3):
        optimizer.step()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        optimizer.step()
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times), sum(p.numel() for p in params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, nargs="+", default=[1000, 9700])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(machine_header(args))
    rows = []
    for n_classes in args.classes:
        reference = None
        for variant in VARIANTS:
            ms, n_params = step_ms(n_classes, variant, args.repeats)
            reference = reference or ms
            rows.append(
                [n_classes, f"{n_params / 1e6:.2f}M", variant, f"{ms:.2f}", f"{reference / ms:.1f}"]
            )
    header = ["classes", "parameters", "AdamW", "ms a step", "x loop"]
    print_table(f"AdamW step, {args.threads} thread(s)", header, rows)


if __name__ == "__main__":
    main()
