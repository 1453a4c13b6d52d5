"""GPU throughput of the paper configuration: training with the real loader, the CQT, indexing.

    python3 benchmarks/gpu_throughput.py                  # a GPU machine (benchmarks/gpu_check.sh)
    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/gpu_throughput.py --smoke   # CPU, tiny

Every setting that the project has a parameter for is read from `conf/`: the coarse stage of
`kedro run --env paper` (conf/paper merged over conf/base: 6 Conformer blocks, d_model 256, FFN
1024, input_pool 1, the CQT front end; P x K = 64 x 4; 15 s chunks at 25 fps = 375 frames x 96
bins; the paper's augmentations; 8 loader workers, 4 batches prefetched each), the CQT of
conf/base/parameters_feature_cqt.yml and the 45 s chunks of conf/base/parameters_indexing.yml.

Tables printed:
1. The feature store the run reads: `--recordings` generated recordings of `--min-seconds` to
   `--max-seconds` (random log-CQT, float16, memory-mapped), written to `--root` first.
2. Training (`coverhunter.training.train`, bf16 autocast on CUDA) with the real loader
   (`CoarseBatchSource` over the store, `batch_loader` workers, pinned memory): samples per
   second over `--timed-steps` after `--warmup-steps`, the GPU's busy share sampled every 100 ms
   during the timed steps (`torch.cuda.utilization`, NVML's "a kernel was running" share), peak
   GPU memory. The classifier has `--works` classes: each work lists `--versions` performances,
   aliases of the stored recordings (the store holds fewer recordings than 8000 works x 4
   would need; what is read from disk per step is the same).
3. Host memory at every logged step: the training process and its loader workers (anonymous
   RSS must stay flat; file-backed RSS is the page cache of the memory-mapped features).
4. The CQT (`CQTExtractor` on the device, `log_cqt_batch`): a batch of `--cqt-batch` signals of
   `--cqt-seconds`, seconds of audio per second of wall clock, per CQT method.
5. Indexing: the 45 s chunks of `--index-tracks` stored recordings embedded by a fresh paper
   model through the indexing path (`inference_embed_fn` + `embed_chunk_table`, one track's
   chunks per call), then a faiss index of them (`index_from_table`); tracks per second.

Nothing here is a test assertion: the numbers go to benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import faiss
import numpy as np
import pandas as pd
import torch
import yaml

from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt_batch
from coverhunter.data.batches import CoarseBatchSource, SamplerConfig
from coverhunter.data.feature_store import FeatureStore, FeatureStoreWriter
from coverhunter.data.loader import LoaderConfig
from coverhunter.data.noise import make_augmenter
from coverhunter.device import resolve_device
from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.model.losses import CoverHunterLoss, LossConfig
from coverhunter.retrieval.chunk_table import embed_chunk_table
from coverhunter.retrieval.embed import inference_embed_fn
from coverhunter.retrieval.gallery import ChunkSettings, index_from_table
from coverhunter.training.config import TrainingConfig
from coverhunter.training.loop import train

CONF = Path(__file__).resolve().parents[1] / "conf"
MIB = 2**20


# ---------------------------------------------------------------- parameters from conf/


def _merged(base: dict, over: dict) -> dict:
    """`over` merged into `base`, section by section (as Kedro merges an env over base)."""
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            _merged(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


def _section(name: str, key: str, env: str | None = None) -> dict:
    section = yaml.safe_load((CONF / "base" / f"parameters_{name}.yml").read_text())[key]
    if env is not None and (CONF / env / f"parameters_{name}.yml").exists():
        section = _merged(
            section, yaml.safe_load((CONF / env / f"parameters_{name}.yml").read_text())[key]
        )
    return section


# ---------------------------------------------------------------- printing and measuring
# Local helpers: query_latency.py has the same ones but imports torchaudio and soundfile at load,
# which a bare GPU machine lacks.


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(x).rjust(w) for x, w in zip(row, widths, strict=True)))


def machine_header(device: torch.device) -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    gpu = "no GPU"
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        gpu = f"{props.name}, {props.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}"
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"{datetime.datetime.now().isoformat(timespec='seconds')}  {cpu}, {os.cpu_count()} "
        f"CPUs, load average {load}\n{gpu}; torch {torch.__version__}, faiss "
        f"{faiss.__version__}, python {platform.python_version()}, {torch.get_num_threads()} "
        f"threads, device {device}"
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _memory_kib(pid: int | str) -> dict[str, int]:
    """Rss, Pss_Anon, Pss_File of a process, in KiB (zeros when it has gone).

    PSS splits a page shared by several processes among them, so the loader workers' pages
    inherited from the training process at fork are not counted once per worker.
    """
    out = {"Rss": 0, "Pss_Anon": 0, "Pss_File": 0}
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return out
    for line in lines[1:]:
        key, _, value = line.partition(":")
        if key in out:
            out[key] = int(value.split()[0])
    return out


def _children() -> list[int]:
    pids = []
    for task in Path("/proc/self/task").glob("*/children"):
        pids += [int(p) for p in task.read_text().split()]
    return pids


def host_memory() -> dict[str, float]:
    """MiB: this process's RSS and anonymous PSS, its children's (the loader workers) anonymous
    PSS, and everyone's file-backed PSS (the page cache of the memory-mapped features)."""
    own = _memory_kib("self")
    workers = [_memory_kib(pid) for pid in _children()]
    return {
        "main_rss": own["Rss"] / 1024,
        "main_anon": own["Pss_Anon"] / 1024,
        "workers": len(workers),
        "workers_anon": sum(w["Pss_Anon"] for w in workers) / 1024,
        "file": (own["Pss_File"] + sum(w["Pss_File"] for w in workers)) / 1024,
    }


class BusySampler:
    """Samples the GPU's busy share (percent) every `period_s` in a thread, with timestamps."""

    def __init__(self, device: torch.device, period_s: float = 0.1):
        self.device, self.period_s = device, period_s
        self.samples: list[tuple[float, float]] = []
        self.error = None if device.type == "cuda" else "no GPU"
        if self.error is None:
            try:
                torch.cuda.utilization(device)
            except Exception as error:  # pynvml missing or NVML refusing: say so in the table
                self.error = f"n/a ({type(error).__name__})"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self.samples.append((time.perf_counter(), float(torch.cuda.utilization(self.device))))

    def __enter__(self) -> BusySampler:
        if self.error is None:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def share(self, start: float = -np.inf, stop: float = np.inf) -> str:
        """Mean busy percent of the samples in `[start, stop]`, with their count."""
        if self.error is not None:
            return self.error
        inside = [value for at, value in self.samples if start <= at <= stop]
        if not inside:
            return "n/a (no sample)"
        return f"{statistics.mean(inside):.0f} % ({len(inside)} samples)"


class StepClock:
    """A `MetricLogger` that notes, at every logged step, the time and the host memory."""

    def __init__(self) -> None:
        self.marks: list[dict] = []

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.marks.append({"step": step, "at": time.perf_counter(), **metrics, **host_memory()})

    def log_params(self, params: dict) -> None:
        self.params = dict(params)


# ---------------------------------------------------------------- generated collection


def write_store(folder: Path, args, n_bins: int, frame_rate: float) -> tuple[FeatureStore, float]:
    """`args.recordings` random log-CQTs of `args.min_seconds`..`args.max_seconds` -> a store.

    Cut from one pool of random values at random offsets: writing costs what the disk costs,
    not what drawing 10^9 normal numbers costs.
    """
    rng = np.random.default_rng(0)
    longest = round(args.max_seconds * frame_rate)
    pool = np.minimum(rng.normal(-40.0, 12.0, (4 * longest, n_bins)), 0.0).astype(np.float16)
    started = time.perf_counter()
    with FeatureStoreWriter(folder) as writer:
        for index in range(args.recordings):
            n_frames = round(rng.uniform(args.min_seconds, args.max_seconds) * frame_rate)
            start = int(rng.integers(0, pool.shape[0] - n_frames))
            writer.append(f"r{index:05d}", pool[start : start + n_frames], "generated")
        store = writer.commit()
    return store, time.perf_counter() - started


class AliasedFeatures(Mapping):
    """perf_id -> the stored recording it aliases (so 8000 works x 4 versions can be listed over
    fewer stored recordings). Pickles as the store plus the alias table."""

    def __init__(self, store: FeatureStore, stored_of: dict[str, str]):
        self.store, self.stored_of = store, stored_of

    def __getitem__(self, perf_id: str) -> np.ndarray:
        return self.store[self.stored_of[perf_id]]

    def __iter__(self) -> Iterator[str]:
        return iter(self.stored_of)

    def __len__(self) -> int:
        return len(self.stored_of)

    def __contains__(self, perf_id: object) -> bool:
        return perf_id in self.stored_of


def aliased_items(
    store: FeatureStore, works: int, versions: int
) -> tuple[AliasedFeatures, pd.DataFrame]:
    stored = sorted(store)
    stored_of, rows = {}, []
    for work in range(works):
        for version in range(versions):
            perf_id = f"w{work:05d}_v{version}"
            stored_of[perf_id] = stored[(work * versions + version) % len(stored)]
            rows.append((perf_id, f"w{work:05d}"))
    return AliasedFeatures(store, stored_of), pd.DataFrame(rows, columns=["perf_id", "work_id"])


# ---------------------------------------------------------------- 1. training


def training_tables(store: FeatureStore, args, coarse: dict, cqt: CQTConfig, device) -> None:
    features, items = aliased_items(store, args.works, args.versions)
    sampler = SamplerConfig(
        **{**coarse["sampler"], "p_works": args.p, "k_items": args.k}, frame_rate=cqt.frame_rate
    )
    augment = {**coarse["augment"], "noise_prob": coarse["augment"]["noise_prob"] * args.noise}
    started = time.perf_counter()
    augmenter = make_augmenter(augment, coarse["noise_dir"], cqt, seed=0)
    bank_s = time.perf_counter() - started
    started = time.perf_counter()
    source = CoarseBatchSource(features, items, sampler, augmenter, seed=0)
    source_s = time.perf_counter() - started
    model = CoverHunter(
        CoverHunterConfig(**coarse["model"], n_classes=source.n_classes),
        generator=torch.Generator().manual_seed(0),
    )
    loss_fn = CoverHunterLoss(
        LossConfig(**coarse["loss"]),
        source.n_classes,
        model.config.embedding_dim,
        source.class_counts,
        generator=torch.Generator().manual_seed(1),
    )
    steps = args.warmup_steps + args.timed_steps
    config = TrainingConfig(
        **{
            **coarse["training"],
            "max_steps": steps,
            "log_every": args.log_every,
            "validate_every": 0,
            "checkpoint_every": 0,
            "early_stopping_patience": 0,
            "device": str(device),
            "mixed_precision": True,
            "amp_dtype": args.amp_dtype,
        }
    )
    loader = LoaderConfig(
        **{
            **coarse["loader"],
            "num_workers": args.workers,
            "prefetch_factor": args.prefetch,
            "pin_memory": device.type == "cuda",
        }
    )
    clock = StepClock()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    at_start = host_memory()
    with tempfile.TemporaryDirectory() as checkpoints, BusySampler(device) as busy:
        started = time.perf_counter()
        result = train(
            model,
            loss_fn,
            source,
            config,
            checkpoint_dir=Path(checkpoints),
            logger=clock,
            loader=loader,
        )
        total_s = time.perf_counter() - started
    at_end = host_memory()

    first = next(m for m in clock.marks if m["step"] == args.warmup_steps)
    last = clock.marks[-1]
    timed_s = last["at"] - first["at"]
    samples = (last["step"] - first["step"]) * args.p * args.k
    peak = (
        f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} allocated, "
        f"{torch.cuda.max_memory_reserved(device) / 2**30:.2f} reserved"
        if device.type == "cuda"
        else "n/a (no GPU)"
    )
    losses = [m["loss/total"] for m in clock.marks]
    rows = [
        [
            "model",
            f"{model.config.n_blocks} blocks, d_model {model.config.d_model}, ffn "
            f"{model.config.ffn_dim}, front end {model.config.front_end}, input_pool "
            f"{model.config.input_pool}",
        ],
        ["parameters", f"{model.num_parameters() / 1e6:.2f} M ({source.n_classes} classes)"],
        [
            "batch",
            f"P x K = {args.p} x {args.k} = {args.p * args.k} chunks of "
            f"{sampler.frames(sampler.chunk_s)} frames x {cqt.n_bins} bins",
        ],
        ["autocast", f"{args.amp_dtype} (CUDA only)" if device.type == "cuda" else "off (CPU)"],
        [
            "loader",
            f"{loader.num_workers} workers, prefetch {loader.prefetch_factor}, pinned "
            f"{loader.pins(device)}; augment noise {'on' if augment['noise_prob'] else 'off'}",
        ],
        ["noise bank / batch source built in", f"{bank_s:.1f} s / {source_s:.1f} s"],
        ["steps (warm-up + timed)", f"{args.warmup_steps} + {last['step'] - first['step']}"],
        ["whole run (with worker start, last checkpoint)", f"{total_s:.1f} s"],
        ["timed: samples / s", f"{samples / timed_s:.1f}"],
        ["timed: ms / step", f"{1e3 * timed_s / (last['step'] - first['step']):.1f}"],
        ["timed: GPU busy", busy.share(first["at"], last["at"])],
        ["peak GPU memory GiB", peak],
        ["loss/total at logged steps", ", ".join(f"{v:.3f}" for v in losses)],
    ]
    assert result.steps == steps
    print_table(
        f"Training, the paper configuration (conf/paper over conf/base), on {device}",
        ["quantity", "value"],
        [[key, value] for key, value in rows],
    )

    def memory_row(when: str, memory: dict) -> list[str]:
        return [when, str(memory["workers"])] + [
            f"{memory[key]:.0f}" for key in ("main_rss", "main_anon", "workers_anon", "file")
        ]

    memory_rows = [memory_row("start (before train)", at_start)]
    memory_rows += [memory_row(f"step {mark['step']}", mark) for mark in clock.marks]
    memory_rows.append(memory_row("end (after train)", at_end))
    growth = {key: last[key] - first[key] for key in ("main_rss", "main_anon", "workers_anon")}
    print_table(
        "Host memory MiB during training (PSS: pages shared after fork counted once); timed "
        f"steps {first['step']} to {last['step']}: main RSS {growth['main_rss']:+.0f}, main anon "
        f"{growth['main_anon']:+.0f}, workers anon {growth['workers_anon']:+.0f}",
        ["when", "workers", "main RSS", "main anon", "workers anon", "file-backed (all)"],
        memory_rows,
    )


# ---------------------------------------------------------------- 2. CQT


def cqt_table(args, cqt: CQTConfig, device: torch.device) -> None:
    rng = np.random.default_rng(1)
    n = round(args.cqt_seconds * cqt.sample_rate)
    signals = [rng.uniform(-1.0, 1.0, n).astype(np.float32) for _ in range(args.cqt_batch)]
    rows = []
    for method in args.cqt_methods:
        config = CQTConfig(**{**cqt.to_dict(), "method": method})
        extractor = CQTExtractor(config).to(device)
        log_cqt_batch(signals, extractor, device)  # warm-up (kernels, allocator)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        seconds = []
        for _ in range(args.cqt_repeats):
            sync(device)
            started = time.perf_counter()
            out = log_cqt_batch(signals, extractor, device)
            seconds.append(time.perf_counter() - started)
        assert out[0].shape == (config.n_frames(n), config.n_bins)
        median = statistics.median(seconds)
        peak = (
            f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f}"
            if device.type == "cuda"
            else "n/a"
        )
        audio_s = args.cqt_batch * args.cqt_seconds
        rows.append(
            [
                method,
                f"{args.cqt_batch} x {args.cqt_seconds:.0f} s",
                f"{median:.3f}",
                f"{audio_s / median:,.0f}",
                peak,
            ]
        )
        del extractor
    print_table(
        f"CQT on {device} (`log_cqt_batch`: host -> device, transform, back; median of "
        f"{args.cqt_repeats} after a warm-up)",
        ["method", "batch", "s per batch", "audio s / s", "peak GPU GiB"],
        rows,
    )


# ---------------------------------------------------------------- 3. indexing


def indexing_table(store: FeatureStore, args, coarse: dict, cqt: CQTConfig, device) -> None:
    indexing = _section("indexing", "indexing")
    model = CoverHunter(
        CoverHunterConfig(**{**coarse["model"], "n_classes": 0}),
        generator=torch.Generator().manual_seed(0),
    )
    chunk_frames, min_tail_frames = ChunkSettings(
        indexing["chunk_s"], indexing["min_tail_s"]
    ).frames(cqt.frame_rate, model.min_frames)
    perf_ids = sorted(store)[: args.index_tracks]
    performances = pd.DataFrame({"perf_id": perf_ids, "work_id": perf_ids})
    features = store.float32()
    rows = []
    for precision in args.index_precisions:
        embedder = inference_embed_fn(model, precision, device)
        embed_kwargs = {
            "chunk_frames": chunk_frames,
            "hop_frames": chunk_frames,
            "frame_rate": cqt.frame_rate,
            "min_tail_frames": min_tail_frames,
            "batch_size": indexing["batch_size"],
            "device": device,
        }
        embed_chunk_table(embedder, performances.head(2), features, **embed_kwargs)  # warm-up
        with BusySampler(device) as busy:
            started = time.perf_counter()
            table = embed_chunk_table(embedder, performances, features, **embed_kwargs)
            embed_s = time.perf_counter() - started
        started = time.perf_counter()
        index = index_from_table(table, indexing["index"])
        index_s = time.perf_counter() - started
        rows.append(
            [
                precision,
                f"{embedder.device}",
                str(len(perf_ids)),
                str(index.n_chunks),
                f"{embed_s:.2f}",
                f"{index_s:.3f}",
                f"{len(perf_ids) / (embed_s + index_s):.1f}",
                f"{index.n_chunks / embed_s:.0f}",
                busy.share(),
            ]
        )
    print_table(
        f"Indexing on {device}: {indexing['chunk_s']:.0f} s chunks of stored recordings, a fresh "
        f"paper model (`inference_embed_fn` + `embed_chunk_table`, up to "
        f"{indexing['batch_size']} chunks per call), then a {indexing['index']['type']} faiss "
        "index",
        [
            "precision",
            "runs on",
            "tracks",
            "chunks",
            "embed s",
            "faiss s",
            "tracks / s",
            "chunks / s",
            "GPU busy",
        ],
        rows,
    )


# ---------------------------------------------------------------- main


SMOKE = {
    "recordings": 24,
    "min_seconds": 20.0,
    "max_seconds": 40.0,
    "works": 24,
    "versions": 2,
    "p": 4,
    "k": 2,
    "workers": 2,
    "prefetch": 2,
    "warmup_steps": 2,
    "timed_steps": 2,
    "log_every": 1,
    "cqt_batch": 2,
    "cqt_seconds": 10.0,
    "cqt_repeats": 1,
    "index_tracks": 4,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--smoke", action="store_true", help="tiny sizes (a CPU check that every table prints)")
    add("--device", default="auto", help="auto | cpu | cuda[:N]")
    add("--root", default="/tmp", help="where the generated feature store is written")
    add("--recordings", type=int, default=2000, help="recordings in the feature store")
    add("--min-seconds", type=float, default=60.0)
    add("--max-seconds", type=float, default=240.0)
    add("--works", type=int, default=8000, help="classes of the classifier")
    add("--versions", type=int, default=4, help="performances listed per work")
    add("--p", type=int, default=64, help="works per batch")
    add("--k", type=int, default=4, help="chunks per work")
    add("--workers", type=int, default=8, help="loader workers")
    add("--prefetch", type=int, default=4, help="batches prefetched per worker")
    add(
        "--noise",
        type=int,
        choices=(0, 1),
        default=1,
        help="1: noise mixing as configured, from a generated noise bank; 0: off",
    )
    add("--amp-dtype", default="bfloat16", choices=("bfloat16", "float16"))
    add("--warmup-steps", type=int, default=10)
    add("--timed-steps", type=int, default=30)
    add("--log-every", type=int, default=10, help="must divide the warm-up and timed steps")
    add("--cqt-batch", type=int, default=32)
    add("--cqt-seconds", type=float, default=240.0)
    add("--cqt-repeats", type=int, default=3)
    add("--cqt-methods", nargs="+", default=["1992v2", "multirate"])
    add("--index-tracks", type=int, default=500)
    add("--index-precisions", nargs="+", default=["float32", "bfloat16"])
    add("--threads", type=int, default=0, help="torch threads of the main process (0: as is)")
    args = parser.parse_args(argv)
    if args.smoke:
        for key, value in SMOKE.items():
            setattr(args, key, value)
    if args.warmup_steps % args.log_every or args.timed_steps % args.log_every:
        parser.error("--log-every must divide --warmup-steps and --timed-steps")
    if args.warmup_steps < args.log_every:
        parser.error("--warmup-steps must be at least --log-every (the timing starts at a log)")
    return args


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(machine_header(device))
    cqt = CQTConfig(**_section("feature_cqt", "feature_cqt")["cqt"])
    coarse = _section("coarse_training", "coarse_training", env="paper")
    with tempfile.TemporaryDirectory(dir=args.root, prefix="gpu-throughput-") as tmp:
        store, write_s = write_store(Path(tmp) / "features", args, cqt.n_bins, cqt.frame_rate)
        table = store.table
        hours = table.n_frames.sum() / cqt.frame_rate / 3600
        disk = sum(p.stat().st_size for p in Path(tmp, "features").glob("shard-*")) / 2**30
        print_table(
            "Feature store (generated, float16, memory-mapped)",
            ["recordings", "seconds each", "hours", "GiB on disk", "written in s"],
            [
                [
                    str(len(store)),
                    f"{args.min_seconds:.0f}-{args.max_seconds:.0f}",
                    f"{hours:.1f}",
                    f"{disk:.2f}",
                    f"{write_s:.1f}",
                ]
            ],
        )
        training_tables(store, args, coarse, cqt, device)
        cqt_table(args, cqt, device)
        indexing_table(store, args, coarse, cqt, device)


if __name__ == "__main__":
    main()
