"""Training data path: DataLoader workers vs in-step batching, and peak RSS vs collection size.

Two tables, both on generated features in a feature store (float16, memory-mapped):

1. Samples per second of short coarse-stage training runs (the conf/base model, P x K chunks
   of 15 s with the paper's augmentations) with the batches cut in the training step
   (`num_workers 0`, what the loop did before the loader) and by 1 and 2 loader workers, in
   the same process, so the ratio is read on one machine state.
2. Peak RSS of a short training run (steps, then one validation over 100 tracks), each in a
   fresh process, on collections of N recordings, reading the feature store, beside the same
   run with every feature loaded into RAM first (how training read features before the store).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/training_data.py
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from query_latency import machine_header, print_table

from coverhunter.audio.augment import AugmentConfig, Augmenter
from coverhunter.data.batches import CoarseBatchSource, SamplerConfig
from coverhunter.data.feature_store import FeatureStore, FeatureStoreWriter
from coverhunter.data.loader import LoaderConfig, batch_loader
from coverhunter.evaluation.collection import EmbedSettings, TrackSet, make_validator
from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.model.losses import CoverHunterLoss, LossConfig
from coverhunter.training import TrainingConfig, train

N_BINS = 96
FRAME_RATE = 25.0
BASE_MODEL = {  # conf/base's coarse model
    "front_end": "chroma_lags",
    "chroma_lags": [0, 5, 10, 15, 20, 30, 40, 60],
    "input_pool": 5,
    "d_model": 128,
    "subsampling_channels": 32,
    "n_heads": 4,
    "ffn_dim": 256,
    "n_blocks": 2,
    "embedding_dim": 128,
}


def build_store(folder: Path, n_recordings: int, seconds: float, versions: int = 4) -> None:
    """`n_recordings` recordings of random log-CQT, `versions` per work, in a new store."""
    rng = np.random.default_rng(0)
    n_frames = round(seconds * FRAME_RATE)
    with FeatureStoreWriter(folder) as writer:
        for index in range(n_recordings):
            frames = rng.normal(-40.0, 12.0, (n_frames, N_BINS)).astype(np.float16)
            writer.append(f"w{index // versions:05d}_v{index % versions}", frames, "generated")
        writer.commit()


def items_of(store: FeatureStore) -> pd.DataFrame:
    perf_ids = sorted(store)
    return pd.DataFrame({"perf_id": perf_ids, "work_id": [p.split("_")[0] for p in perf_ids]})


def training_run(
    store, items, p: int, k: int, steps: int, workers: int, validate=None
) -> list[dict]:
    sampler = SamplerConfig(p_works=p, k_items=k, frame_rate=FRAME_RATE)
    augmenter = Augmenter(AugmentConfig(noise_prob=0.0))  # noise needs a bank; the rest as paper
    source = CoarseBatchSource(store, items, sampler, augmenter, seed=0)
    model = CoverHunter(
        CoverHunterConfig(**BASE_MODEL, n_classes=source.n_classes),
        generator=torch.Generator().manual_seed(0),
    )
    loss_fn = CoverHunterLoss(LossConfig(), source.n_classes, 128, source.class_counts)
    config = TrainingConfig(
        max_steps=steps, log_every=max(1, steps // 4), checkpoint_every=0, device="cpu",
        validate_every=steps if validate else 0,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        result = train(
            model, loss_fn, source, config, checkpoint_dir=Path(tmp), validate=validate,
            loader=LoaderConfig(num_workers=workers),
        )  # fmt: skip
    return result.history


def throughput_table(folder: Path, args) -> None:
    store = FeatureStore(folder)
    items = items_of(store)
    rows, rates = [], []
    for workers in args.workers:
        history = training_run(store, items, args.p, args.k, args.steps, workers)
        timed = history[1:]  # the first window holds the warm-up
        rate = float(np.mean([record["samples_per_s"] for record in timed]))
        rates.append(rate)
        label = "in the step" if workers == 0 else f"{workers} worker(s)"
        rows.append(
            [label, f"{args.p}x{args.k}", str(args.steps), f"{rate:.1f}", f"{rate / rates[0]:.2f}"]
        )
    print_table(
        f"Coarse training on {len(store)} stored recordings, conf/base model, CPU "
        f"({torch.get_num_threads()} threads)",
        ["batches cut", "P x K", "steps", "samples/s", "x in the step"],
        rows,
    )


def loader_table(folder: Path, args) -> None:
    """Batches from the loader alone (no model): what the workers can feed a GPU."""
    store = FeatureStore(folder)
    sampler = SamplerConfig(p_works=64, k_items=4, frame_rate=FRAME_RATE)
    source = CoarseBatchSource(
        store, items_of(store), sampler, Augmenter(AugmentConfig(noise_prob=0.0)), seed=0
    )
    rows, rates = [], []
    for workers in args.workers:
        loader = batch_loader(
            source, 0, args.loader_steps + 1, LoaderConfig(num_workers=workers), torch.device("cpu")
        )
        batches = iter(loader)
        next(batches)  # worker start-up and the first batch are not timed
        started = time.perf_counter()
        n = sum(batch.cqt.shape[0] for batch in batches)
        rate = n / (time.perf_counter() - started)
        rates.append(rate)
        label = "in the step" if workers == 0 else f"{workers} worker(s)"
        rows.append(
            [label, "64x4", str(args.loader_steps), f"{rate:.0f}", f"{rate / rates[0]:.2f}"]
        )
    print_table(
        "The loader alone (cut + paper augmentations without noise + pad, no model): samples/s",
        ["batches cut", "P x K", "batches", "samples/s", "x in the step"],
        rows,
    )


def _peak_rss_run(folder: str, in_ram: bool, steps: int) -> dict:
    """One short training run plus a validation over 100 tracks; -> peak RSS (MiB)."""
    torch.set_num_threads(2)
    store = FeatureStore(folder)
    items = items_of(store)
    features = {p: np.asarray(store[p], np.float32) for p in store} if in_ram else store
    val = items.iloc[:100]
    validate = make_validator(
        TrackSet(list(val.perf_id), list(val.work_id), store.float32()),
        EmbedSettings(chunk_frames=1125, frame_rate=FRAME_RATE, batch_size=16),
    )
    started = time.perf_counter()
    training_run(features, items, 8, 4, steps, 0, validate)
    return {
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "seconds": time.perf_counter() - started,
    }


def memory_table(root: Path, args) -> None:
    rows = []
    for n in args.sizes:
        folder = root / f"store_{n}"
        if not folder.exists():
            build_store(folder, n, args.seconds)
        disk_mib = sum(p.stat().st_size for p in folder.glob("shard-*")) / 2**20
        for in_ram in (False, True):
            command = [sys.executable, __file__, "--rss-child", str(folder), str(int(in_ram))]
            command += ["--steps", str(args.rss_steps)]
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            result = json.loads(out.strip().splitlines()[-1])
            rows.append(
                [
                    str(n),
                    f"{disk_mib:.0f}",
                    "all in RAM (before)" if in_ram else "feature store",
                    f"{result['peak_rss_mib']:.0f}",
                    f"{result['seconds']:.1f}",
                ]
            )
    print_table(
        f"Peak RSS of {args.rss_steps} training steps (8x4) + validation of 100 tracks, "
        f"{args.seconds:.0f} s recordings",
        ["recordings", "features on disk MiB", "features read from", "peak RSS MiB", "run s"],
        rows,
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--rss-child", nargs=2, metavar=("FOLDER", "IN_RAM"), help=argparse.SUPPRESS)
    add("--p", type=int, default=8)
    add("--k", type=int, default=4)
    add("--steps", type=int, default=16)
    add("--workers", type=int, nargs="+", default=[0, 1, 2])
    add("--sizes", type=int, nargs="+", default=[1000, 10000])
    add("--seconds", type=float, default=60.0, help="length of every generated recording")
    add("--rss-steps", type=int, default=10)
    add("--loader-steps", type=int, default=8, help="batches timed in the loader-only table")
    add("--skip-memory", action="store_true", help="only the throughput tables")
    add("--threads", type=int, default=2)
    add("--root", default=None, help="where the generated stores go (default: a temp folder)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.rss_child:
        print(json.dumps(_peak_rss_run(args.rss_child[0], args.rss_child[1] == "1", args.steps)))
        return
    torch.set_num_threads(args.threads)
    print(machine_header(args))
    with tempfile.TemporaryDirectory(dir=args.root) as tmp:
        root = Path(tmp)
        build_store(root / "store_1000", 1000, args.seconds)
        throughput_table(root / "store_1000", args)
        loader_table(root / "store_1000", args)
        if not args.skip_memory:
            memory_table(root, args)


if __name__ == "__main__":
    main()
