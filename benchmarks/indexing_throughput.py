"""Indexing throughput: tracks per second through decode + log-CQT + chunk embedding.

    .venv/bin/python benchmarks/indexing_throughput.py [--tracks 8] [--folder DIR]
        [--device auto] [--batch-size 1] [--precisions fp32 bf16] [--threads 2]

Without `--folder` the script writes `--tracks` synthetic recordings (44.1 kHz stereo FLAC,
`--min-seconds` to `--max-seconds` long) to a temp dir. Each batch of `--batch-size` recordings
is decoded on the CPU (one after another), its log-CQT computed in one padded batch on the
device, and all its 45 s chunks (tail kept) embedded by the paper's model (random weights) in
batches of `--chunk-batch`. One warm-up batch runs before the clock starts.

Precisions: fp32; bf16 / fp16 = `torch.autocast` on the device (fp16 on CUDA only); int8 =
dynamic quantisation of the Linear layers (CPU only). The CQT always runs in float32.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from query_latency import machine_header, print_table, write_recording

from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt_batch
from coverhunter.audio.io import AUDIO_EXTENSIONS, load_audio, peak_normalise
from coverhunter.data.chunking import chunk_starts, cut_chunks
from coverhunter.device import resolve_device
from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.retrieval.quantize import autocast_embed, quantize_linear_int8


def embed_function(model: CoverHunter, precision: str, device: torch.device):
    if precision == "fp32":
        return model.embed
    if precision in ("bf16", "fp16"):
        if precision == "fp16" and device.type != "cuda":
            raise ValueError("fp16 autocast needs CUDA; use bf16 on the CPU")
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return autocast_embed(model.embed, dtype, device.type)
    if precision == "int8":
        if device.type != "cpu":
            raise ValueError("int8 dynamic quantisation runs on the CPU only")
        return quantize_linear_int8(model).embed
    raise ValueError(f"precision {precision!r}; expected fp32, bf16, fp16 or int8")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_batch(paths, extractor, embed, config, chunk_frames, chunk_batch, device, clock) -> int:
    """Decode, CQT and embed one batch of recordings; adds stage seconds to `clock`."""
    start = time.perf_counter()
    signals = [peak_normalise(load_audio(p, config.sample_rate)) for p in paths]
    clock["decode"] += time.perf_counter() - start

    start = time.perf_counter()
    features = log_cqt_batch(signals, extractor, device)
    sync(device)
    clock["cqt"] += time.perf_counter() - start

    start = time.perf_counter()
    pieces = [
        cut_chunks(f, chunk_starts(len(f), chunk_frames, chunk_frames), chunk_frames)
        for f in features
    ]
    chunks = torch.cat([c for c, _ in pieces])
    lengths = torch.cat([n for _, n in pieces])
    with torch.inference_mode():
        for lo in range(0, len(chunks), chunk_batch):
            batch = chunks[lo : lo + chunk_batch].to(device, non_blocking=True)
            embed(batch, lengths[lo : lo + chunk_batch].to(device)).cpu()
    sync(device)
    clock["embed"] += time.perf_counter() - start
    return sum(len(s) for s in signals)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--folder", type=Path, help="recordings to index (default: synthetic ones)")
    add("--tracks", type=int, default=8, help="synthetic recordings to write")
    add("--min-seconds", type=float, default=180.0)
    add("--max-seconds", type=float, default=240.0)
    add("--device", default="auto")
    add("--batch-size", type=int, default=1, help="recordings per CQT batch")
    add("--chunk-batch", type=int, default=32, help="45 s chunks per model call")
    add("--precisions", nargs="+", default=["fp32", "bf16"])
    add("--cqt-method", default="multirate")
    add("--threads", type=int, default=2)
    add("--seed", type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(machine_header(args))
    if device.type == "cuda":
        print(f"device {torch.cuda.get_device_name(device)}")
    config = CQTConfig(method=args.cqt_method)
    chunk_frames = round(45.0 * config.frame_rate)
    extractor = CQTExtractor(config).to(device)
    model = CoverHunter(CoverHunterConfig(), generator=torch.Generator().manual_seed(0)).eval()

    with tempfile.TemporaryDirectory() as tmp:
        if args.folder is not None:
            paths = sorted(
                p for p in args.folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS
            )
        else:
            rng = np.random.default_rng(args.seed)
            paths = [
                write_recording(
                    Path(tmp) / f"track{i:03d}.flac",
                    rng.uniform(args.min_seconds, args.max_seconds),
                    rng,
                )
                for i in range(args.tracks)
            ]
        if not paths:
            raise SystemExit(f"no recordings under {args.folder}")
        batches = [paths[i : i + args.batch_size] for i in range(0, len(paths), args.batch_size)]
        rows = []
        for precision in args.precisions:
            net = model.to("cpu") if precision == "int8" else model.to(device)
            embed = embed_function(net, precision, device)
            warm = {"decode": 0.0, "cqt": 0.0, "embed": 0.0}
            run_batch(
                batches[0], extractor, embed, config, chunk_frames, args.chunk_batch, device, warm
            )
            clock = {"decode": 0.0, "cqt": 0.0, "embed": 0.0}
            start, start_cpu = time.perf_counter(), time.process_time()
            samples = sum(
                run_batch(
                    b, extractor, embed, config, chunk_frames, args.chunk_batch, device, clock
                )
                for b in batches
            )
            wall = time.perf_counter() - start
            cpu = time.process_time() - start_cpu
            audio_s = samples / config.sample_rate
            rows.append(
                [
                    precision,
                    str(device),
                    str(args.batch_size),
                    str(len(paths)),
                    f"{audio_s / len(paths):.0f}",
                    *(f"{1e3 * clock[k] / len(paths):.0f}" for k in ("decode", "cqt", "embed")),
                    f"{1e3 * cpu / len(paths):.0f}",
                    f"{len(paths) / wall:.2f}",
                    f"{audio_s / wall:.0f}",
                ]
            )
    print_table(
        f"Indexing throughput (CQT {args.cqt_method}, paper model, 45 s chunks, "
        f"{args.chunk_batch} chunks per call)",
        [
            "precision",
            "device",
            "batch",
            "tracks",
            "s/track",
            "decode ms/track",
            "CQT ms/track",
            "embed ms/track",
            "CPU ms/track",
            "tracks/s",
            "x realtime",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
