"""Training throughput: samples per second of the real training step on random CQT batches.

    .venv/bin/python benchmarks/training_throughput.py [--device auto] [--p-works P]
        [--k-items K] [--steps N] [--warmup W] [--amp on off] [--threads 2]
        [--front-ends cqt chroma_lags] [--input-pools 1 5]

Each step is `coverhunter.training.train`'s own: the paper's model forward, `CoverHunterLoss`
(focal + center + triplet), backward, gradient clipping, an AdamW step. Batches are P works x K
chunks of `--chunk-s` seconds of random log-CQT (drawn before the clock starts, a small pool
cycled), so only the step is timed. Throughput is read from the loop's own `samples_per_s`
over the steps after `--warmup` (cuDNN autotuning, allocator warm-up and the first
oneDNN kernel builds fall in the warm-up).

Each front end (`model.front_end`: the paper's CQT, or the key-invariant chroma lags) is timed at
each `input_pool` (frames averaged before the network); the last column is the speed-up over the
first row, the paper's (cqt, pool 1) by default, measured in the same run.

Defaults: on CUDA P=64, K=4 (the paper's batch of 256), 40 steps, mixed precision on and off;
on the CPU P=4, K=2, 4 steps (training there only shows the order of magnitude; `train` never
autocasts off the GPU, so `--amp` does not apply).
"""

from __future__ import annotations

import argparse
import tempfile

import torch
from query_latency import machine_header, print_table

from coverhunter.data.batches import Batch
from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.model.losses import CoverHunterLoss, LossConfig
from coverhunter.training import TrainingConfig, resolve_device, train


class RandomBatches:
    """A `BatchSource` cycling `pool` random batches of P works x K chunks."""

    def __init__(self, n_classes: int, p: int, k: int, frames: int, n_bins: int, pool: int):
        generator = torch.Generator().manual_seed(0)
        self.n_classes = n_classes
        self.class_counts = torch.ones(n_classes)
        self.pool = [
            Batch(
                cqt=torch.randn(p * k, frames, n_bins, generator=generator),
                lengths=torch.full((p * k,), frames, dtype=torch.long),
                labels=torch.randperm(n_classes, generator=generator)[:p].repeat_interleave(k),
            )
            for _ in range(pool)
        ]

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> Batch:
        return self.pool[step % len(self.pool)]


def timed_throughput(history: list[dict], batch_size: int) -> tuple[float, int]:
    """Samples per second over the logged windows after the first (the warm-up), and steps."""
    samples = seconds = 0.0
    previous = history[0]["step"]
    for record in history[1:]:
        n = (record["step"] - previous) * batch_size
        samples += n
        seconds += n / record["samples_per_s"]
        previous = record["step"]
    return samples / seconds, int(samples // batch_size)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--device", default="auto")
    add("--p-works", type=int)
    add("--k-items", type=int)
    add("--steps", type=int, help="timed steps")
    add("--warmup", type=int, help="untimed steps first")
    add("--chunk-s", type=float, default=15.0)
    add("--classes", type=int, default=8000, help="classifier size (SHS100K-TRAIN: ~8k works)")
    add("--amp", nargs="+", default=["on", "off"], choices=["on", "off"])
    add("--threads", type=int, default=2)
    add("--front-ends", nargs="+", default=["cqt", "chroma_lags"], choices=["cqt", "chroma_lags"])
    add("--input-pools", nargs="+", type=int, default=[1, 5])
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    p = args.p_works or (64 if cuda else 4)
    k = args.k_items or (4 if cuda else 2)
    steps = args.steps or (40 if cuda else 4)
    warmup = args.warmup or (10 if cuda else 1)
    if steps % warmup:
        steps += warmup - steps % warmup  # whole log windows after the warm-up
    print(machine_header(args))
    if cuda:
        print(f"device {torch.cuda.get_device_name(device)}")
    frames = round(args.chunk_s * 25.0)  # 25 frames per second (hop 640 at 16 kHz)
    batches = RandomBatches(args.classes, p, k, frames, 96, pool=4)
    rows, rates = [], []
    settings = [
        (amp, front_end, pool)
        for amp in (args.amp if cuda else ["off"])
        for front_end in args.front_ends
        for pool in args.input_pools
    ]
    for amp, front_end, pool in settings:
        model_config = CoverHunterConfig(
            n_classes=args.classes, front_end=front_end, input_pool=pool
        )
        model = CoverHunter(model_config, generator=torch.Generator().manual_seed(0))
        loss_fn = CoverHunterLoss(
            LossConfig(), args.classes, model_config.embedding_dim, batches.class_counts
        )
        config = TrainingConfig(
            max_steps=warmup + steps,
            log_every=warmup,
            checkpoint_every=0,
            validate_every=0,
            device=str(device),
            mixed_precision=amp == "on",
        )
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        with tempfile.TemporaryDirectory() as tmp:
            result = train(model, loss_fn, batches, config, checkpoint_dir=tmp)
        rate, timed_steps = timed_throughput(result.history, p * k)
        rates.append(rate)
        peak = f"{torch.cuda.max_memory_allocated(device) / 2**30:.1f}" if cuda else "-"
        rows.append(
            [
                str(device),
                "on" if cuda and amp == "on" else "off",
                front_end,
                str(pool),
                f"{p}x{k}",
                f"{args.chunk_s:.0f}",
                str(timed_steps),
                f"{rate:.1f}",
                f"{1e3 * p * k / rate:.0f}",
                peak,
                f"{rate / rates[0]:.2f}",
            ]
        )
    print_table(
        f"Training throughput: paper model ({model.num_parameters() / 1e6:.1f}M parameters with "
        f"a {args.classes}-class classifier), CoverHunterLoss, AdamW, clip 1.0",
        [
            "device",
            "AMP",
            "front end",
            "input pool",
            "P x K",
            "chunk s",
            "timed steps",
            "samples/s",
            "ms/step",
            "peak GiB",
            "x first row",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
