"""Per-query latency at scale: decode, CQT, model and retrieval, against the paper's 316 ms.

    .venv/bin/python benchmarks/query_latency.py [--tracks 1000000] [--threads 2] [--queries 50]

One query is a 4-minute recording (44.1 kHz stereo, written by this script as FLAC and as MP3,
as a user's query typically is): decode + downmix + resample to 16 kHz, log-CQT, the model on its
45 s chunks (random weights: speed does not depend on them) in two configurations, the paper's
(6 Conformer blocks, d 256, FFN 1024) and the shipped CPU one (`model:` of
conf/base/parameters_coarse_training.yml, what `make run` trains), then a track-level search
(`search_tracks`: nearest chunks, min distance per track) of a gallery of `--tracks` tracks x
`--chunks-per-track` synthetic chunk embeddings (dim 128) in each index type.

Tables printed:
1. Decoding, split into libsndfile's read, the downmix and the resampling (`coverhunter.audio.io`)
   beside the former path (numpy mean, `torchaudio.functional.resample`); the `--query-format`
   file's full `load_audio` is the decode stage of the total.
2. CQT implementations on the same 4-minute signal (librosa refuses 96 bins from 32 Hz at 16 kHz,
   so it runs at 94), with the largest dB difference from nnAudio 1992v2 on cells above -60 dB.
3. Each model configuration through the real inference path (`inference_embed_fn`, all chunks
   in one call, `torch.inference_mode`): float32, bfloat16 autocast and int8 dynamic
   quantisation (Linear layers), plus float32 one chunk per call and the fastest variant on one
   thread; with the worst cosine
   between each variant's chunk embeddings and float32's. The fastest of float32 / bfloat16 /
   int8 within `--cosine-tolerance` is used for the total.
4. Each index over a parameter sweep (HNSW efSearch, IVF-PQ nprobe): median and p95 latency over
   `--queries` queries, recall@1 and recall@10 of tracks against exact search on the same gallery,
   build time, and memory per million tracks (faiss structures; the perf-id map beside them is
   listed apart). The cheapest setting with recall@10 >= `--target-recall` goes to the total.
5. Total per query per model configuration and index type, wall and CPU, and its ratio to the
   paper's Table III (316 ms on 2 cores), with and without decoding (Table III has none).
6. The second stage (`retrieval/rerank.py`) per model configuration: the query's sequence
   (`--rerank-window-s` windows every `--rerank-hop-s`, in the chosen precision) and the
   alignment with K = `--rerank-k` shortlisted sequences of the same length, and the cost at each
   K against the embedding path (CQT + model + the cheapest index's retrieval).
7. `coverhunter identify` end to end (`--identify-project`, a project after `kedro run`), on one
   of its gallery recordings and on a new `--query-seconds` recording: a cold process from start
   to printed answer against the query's own compute (the node's first call, in a process of its
   own), the start-up split into imports and loads, `python -c "import torch"` (a floor no
   start-up goes below) and the rest, a machine's first query (CQT kernels not yet kept), and
   `identify-batch` over `--identify-queries` copies (per further query); wall and CPU time.
   `--identify-only` prints only these tables.
8. The re-rank's pitch stage (`retrieval/pitch_rerank.py`, settings from
   conf/base/parameters_indexing.yml `rerank.pitch`): the query's chroma (from its CQT, or its
   audio for `source: hpcp`) and its
   alignment with K = `--rerank-k` stored chroma sequences of `--pitch-candidate-s` seconds
   (the query's length if not given; random chroma: the cost depends only on the lengths).
   `--pitch-only` prints decoding, the CQT and this table.

The machine header says which precision `precision: auto` picks here, and why.

The gallery is synthetic but clustered like a CSI collection: works with `--versions-per-work`
versions each; a version's direction is at cosine `--track-cos` to its work's, a chunk at
`--chunk-cos` to its version's. A query is a gallery track's chunks perturbed to cosine
`--query-cos` (6 chunks, as a 4-minute query has), so its true neighbours are its own work.
HNSW is built on at most `--hnsw-max-tracks` tracks (its build runs at a few thousand vectors per
second on 2 cores); its recall is measured against exact search on that same gallery.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF
import yaml

from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt
from coverhunter.audio.io import decode_audio, load_audio, peak_normalise, resample
from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.retrieval.embed import embed_track_chunks, inference_embed_fn
from coverhunter.retrieval.index import ChunkIndex, build_index, search_tracks
from coverhunter.retrieval.index import add as add_to_index
from coverhunter.retrieval.pitch_rerank import PitchSettings, pitch_alignment
from coverhunter.retrieval.precision import auto_precision
from coverhunter.retrieval.quantize import cosine_agreement
from coverhunter.retrieval.rerank import align_candidates
from coverhunter.serving.chroma import recording_chroma

PAPER_MS = {"CQT": 192.0, "model": 54.0, "retrieval": 70.0, "total": 316.0}  # Table III
FILE_RATE = 44100  # the files' own rate: decoding includes resampling, as for real queries
SHIPPED_PARAMS = Path(__file__).parents[1] / "conf/base/parameters_coarse_training.yml"


# ---------------------------------------------------------------- machine and timing


def precision_line() -> str:
    precision, why = auto_precision(torch.device("cpu"))
    return f"precision auto on this CPU: {precision} ({why})"


def machine_header(args: argparse.Namespace) -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.read_text().splitlines()
            if ln.startswith("model name")
        ]
        model = names[0] if names else model
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"{datetime.datetime.now().isoformat(timespec='seconds')}  {model}, "
        f"{os.cpu_count()} CPUs, load average {load}\n"
        f"torch {torch.__version__}, faiss {faiss.__version__}, python "
        f"{platform.python_version()}, {args.threads} threads, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}"
    )


@dataclass
class Timing:
    """Wall-clock median and p95, and the median process CPU time (all threads), in ms.

    On a machine shared with other jobs the wall clock includes waiting for a core; the CPU time
    is the work itself (for a stage that keeps both threads busy, wall ~ CPU / threads).
    """

    median: float
    p95: float
    cpu: float

    @classmethod
    def of(cls, wall_s: list[float], cpu_s: list[float]) -> Timing:
        return cls(
            1e3 * statistics.median(wall_s),
            1e3 * float(np.percentile(wall_s, 95)),
            1e3 * statistics.median(cpu_s),
        )


def timed(fn: Callable[[], object], repeats: int) -> Timing:
    """Timing of `repeats` calls, after one warm-up call."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return Timing.of(wall, cpu)


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(x).rjust(w) for x, w in zip(row, widths, strict=True)))


# ---------------------------------------------------------------- audio


def music_like(seconds: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    """`(S, 2)` float32 stereo: a melody, a bass line and a chord pad of harmonic notes, plus noise.

    Notes change every 0.25-1 s, so the CQT sees onsets and moving partials as in real music.
    """
    n = int(seconds * rate)
    notes = []
    while sum(len(x) for x in notes) < n:
        notes.append(np.full(int(rate * rng.uniform(0.25, 1.0)), rng.integers(0, 36)))
    pitch = np.concatenate(notes)[:n]  # semitones above the voice's root, per sample
    out = np.zeros((n, 2), dtype=np.float64)
    for root_hz, level, pan in ((55.0, 0.5, 0.3), (220.0, 0.35, 0.7), (110.0, 0.25, 0.5)):
        freq = root_hz * 2 ** (((pitch + rng.integers(0, 12)) % 24) / 12)
        phase = 2 * np.pi * np.cumsum(freq) / rate
        voice = sum(0.6**h * np.sin((h + 1) * phase) for h in range(5))
        out[:, 0] += level * (1 - pan) * voice
        out[:, 1] += level * pan * voice
    out += 0.02 * rng.standard_normal(out.shape)
    return (0.9 * out / np.abs(out).max()).astype(np.float32)


def write_recording(path: Path, seconds: float, rng: np.random.Generator) -> Path:
    """One music-like stereo recording at `path`, in the format its suffix names."""
    sf.write(str(path), music_like(seconds, FILE_RATE, rng), FILE_RATE)
    return path


def write_recordings(folder: Path, seconds: float, rng: np.random.Generator) -> dict[str, Path]:
    """The same stereo signal as FLAC and as MP3 (libsndfile's LAME defaults)."""
    signal = music_like(seconds, FILE_RATE, rng)
    paths = {}
    for fmt in ("flac", "mp3"):
        paths[fmt] = folder / f"query.{fmt}"
        sf.write(str(paths[fmt]), signal, FILE_RATE, format=fmt.upper())
    return paths


def decode(path: Path, rate: int) -> np.ndarray:
    return peak_normalise(load_audio(path, rate))


def decode_rows(paths: dict[str, Path], rate: int, repeats: int) -> dict[str, Timing]:
    """Per format: libsndfile's read, downmix and resample now and before, and `load_audio`."""
    rows = {}
    for fmt, path in paths.items():
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
        mono = decode_audio(path, rate).samples
        tensor = torch.from_numpy(mono)
        kbps = path.stat().st_size * 8 / 1e3 / (len(data) / file_rate)
        name = f"{fmt} {file_rate / 1e3:g} kHz x{data.shape[1]} ({kbps:.0f} kbit/s)"
        rows[f"{name}: read (libsndfile)"] = timed(
            lambda p=path: sf.read(str(p), dtype="float32", always_2d=True), repeats
        )
        rows[f"{name}: read + downmix, decode_audio (now)"] = timed(
            lambda p=path: decode_audio(p, rate), repeats
        )
        rows[f"{name}: downmix, numpy mean (before)"] = timed(
            lambda d=data: d.mean(axis=1).astype(np.float32), repeats
        )
        rows[f"{name}: resample, torchaudio (before)"] = timed(
            lambda t=tensor, r=file_rate: AF.resample(t, r, rate), repeats
        )
        rows[f"{name}: resample, io.resample (now)"] = timed(
            lambda m=mono, r=file_rate: resample(m, r, rate), repeats
        )
        rows[f"{name}: load_audio + peak_normalise (now)"] = timed(
            lambda p=path: decode(p, rate), repeats
        )
    return rows


# ---------------------------------------------------------------- CQT


def db_difference(out: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(max, median) absolute dB difference over the cells in `mask`."""
    diff = np.abs(out - reference)[mask]
    return float(diff.max()), float(np.median(diff))


def cqt_rows(audio: np.ndarray, config: CQTConfig, methods: list[str], repeats: int) -> dict:
    """Median ms and dB difference from 1992v2 per CQT implementation."""
    results = {}
    reference = log_cqt(audio, CQTExtractor(CQTConfig(**{**config.to_dict(), "method": "1992v2"})))
    audible = reference > -60.0
    for method in methods:
        if method == "librosa":
            try:
                import librosa
            except ImportError:
                continue
            bins = config.n_bins - 2  # its top filter would pass Nyquist at 96

            def run(bins=bins):
                magnitude = np.abs(
                    librosa.cqt(
                        audio,
                        sr=config.sample_rate,
                        hop_length=config.hop_length,
                        fmin=config.fmin,
                        n_bins=bins,
                        bins_per_octave=config.bins_per_octave,
                    )
                )
                db = 20 * np.log10(magnitude + config.amin)
                return (db - db.max()).T

            out = run()
            diff = db_difference(out, reference[: len(out), :bins], audible[: len(out), :bins])
            results[f"librosa.cqt ({bins} bins)"] = (timed(run, repeats), diff)
            continue
        extractor = CQTExtractor(CQTConfig(**{**config.to_dict(), "method": method}))
        out = log_cqt(audio, extractor)
        diff = db_difference(out, reference, audible)
        name = f"CQTExtractor {method} ({config.n_bins} bins)"
        results[name] = (timed(lambda e=extractor: log_cqt(audio, e), repeats), diff)
    return results


# ---------------------------------------------------------------- model


def model_configs() -> dict[str, CoverHunterConfig]:
    """The paper's model and the shipped CPU model (the coarse stage's `model:` parameters)."""
    shipped = yaml.safe_load(SHIPPED_PARAMS.read_text())["coarse_training"]["model"]
    return {"paper": CoverHunterConfig(), "shipped": CoverHunterConfig(**shipped)}


def chosen_configs(args: argparse.Namespace) -> dict[str, CoverHunterConfig]:
    return {name: c for name, c in model_configs().items() if name in args.model_configs}


def model_rows(
    config: CoverHunterConfig,
    features: np.ndarray,
    chunk_frames: int,
    min_tail_frames: int,
    repeats: int,
    threads: int,
) -> dict[str, tuple[Timing, float]]:
    """Per variant: (timing, worst cosine to float32), through `inference_embed_fn`; a tail
    chunk shorter than `min_tail_frames` left out, as indexing and identify leave it."""
    model = CoverHunter(config, generator=torch.Generator().manual_seed(0)).eval()
    n_chunks = -(-features.shape[0] // chunk_frames)

    def embed(fn, batch_size=n_chunks):
        return embed_track_chunks(
            fn, features, chunk_frames, batch_size=batch_size, min_tail_frames=min_tail_frames
        )

    reference = embed(model.embed)
    results = {}
    for precision in ("float32", "bfloat16", "int8"):
        fn = inference_embed_fn(model, precision)
        agreement = cosine_agreement(reference, embed(fn))
        results[precision] = (timed(lambda fn=fn: embed(fn), repeats), agreement)
    results["float32, one chunk per call"] = (
        timed(lambda: embed(model.embed, 1), repeats),
        cosine_agreement(reference, embed(model.embed, 1)),
    )
    fastest = min(("float32", "bfloat16", "int8"), key=lambda k: results[k][0].median)
    fn = inference_embed_fn(model, fastest)
    torch.set_num_threads(1)
    results[f"{fastest}, 1 thread"] = (timed(lambda: embed(fn), repeats), results[fastest][1])
    torch.set_num_threads(threads)
    return results


# ---------------------------------------------------------------- gallery


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def mix(direction: np.ndarray, cos: float, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors at cosine ~`cos` to the unit rows of `direction` (random other component)."""
    noise = unit(rng.standard_normal(direction.shape, dtype=np.float32))
    return unit(cos * direction + np.sqrt(1 - cos**2) * noise).astype(np.float32)


def make_gallery(args: argparse.Namespace, rng: np.random.Generator) -> np.ndarray:
    """`(tracks * chunks, dim)` float32 unit chunk embeddings; track t belongs to work t // V."""
    n_works = -(-args.tracks // args.versions_per_work)
    works = unit(rng.standard_normal((n_works, args.dim), dtype=np.float32))
    out = np.empty((args.tracks * args.chunks_per_track, args.dim), dtype=np.float32)
    block = 100_000
    for lo in range(0, args.tracks, block):
        hi = min(lo + block, args.tracks)
        tracks = mix(works[np.arange(lo, hi) // args.versions_per_work], args.track_cos, rng)
        chunks = mix(np.repeat(tracks, args.chunks_per_track, axis=0), args.chunk_cos, rng)
        out[lo * args.chunks_per_track : hi * args.chunks_per_track] = chunks
    return out


def make_queries(
    gallery: np.ndarray, n_tracks: int, args: argparse.Namespace, rng: np.random.Generator
) -> list[np.ndarray]:
    """`--queries` arrays `(query_chunks, dim)`: a gallery track's chunks (cycled), perturbed."""
    sources = rng.choice(n_tracks, size=args.queries, replace=False)
    rows = np.arange(args.query_chunks) % args.chunks_per_track
    return [mix(gallery[t * args.chunks_per_track + rows], args.query_cos, rng) for t in sources]


def index_bytes(index: faiss.Index) -> int:
    """Bytes held by the faiss structures of a flat, HNSW-flat or IVF-PQ index."""
    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexHNSWFlat):
        hnsw = index.hnsw
        storage = faiss.downcast_index(index.storage)
        graph = hnsw.neighbors.size() * 4 + hnsw.offsets.size() * 8 + hnsw.levels.size() * 4
        return storage.codes.size() + graph
    if isinstance(index, faiss.IndexIVFPQ):
        lists = index.invlists
        quantizer = index.quantizer.ntotal * index.d * 4
        return (
            lists.compute_ntotal() * (lists.code_size + 8)
            + quantizer
            + index.pq.centroids.size() * 4
        )
    return index.codes.size()


# ---------------------------------------------------------------- retrieval


def search_all(index: ChunkIndex, queries: list[np.ndarray], args) -> tuple[Timing, list]:
    """Timing over the queries (one at a time) and each query's top `--k-tracks` perf ids."""
    wall, cpu, hits = [], [], []
    search_tracks(index, queries[0], args.k_tracks, args.k_chunks)  # warm-up
    for query in queries:
        start, start_cpu = time.perf_counter(), time.process_time()
        result = search_tracks(index, query, args.k_tracks, args.k_chunks)[0]
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        hits.append(result.perf_ids.tolist())
    return Timing.of(wall, cpu), hits


def recall(hits: list[list[str]], truth: list[list[str]], k: int) -> float:
    return float(
        np.mean(
            [len(set(h[:k]) & set(t[:k])) / len(t[:k]) for h, t in zip(hits, truth, strict=True)]
        )
    )


def retrieval_rows(args, gallery, ids, starts, queries) -> tuple[list[list[str]], dict]:
    """The sweep table and, per index type, the chosen (label, timing)."""
    per_track = args.chunks_per_track
    rows, chosen = [], {}

    def add_row(kind, setting, n_tracks, build_s, nbytes, timing, hits, truth):
        r1, r10 = recall(hits, truth, 1), recall(hits, truth, min(10, args.k_tracks))
        per_million = nbytes / 1e6 * 1e6 / n_tracks
        rows.append(
            [
                kind,
                setting,
                f"{n_tracks:,}",
                f"{build_s:.1f}",
                f"{per_million:.0f}",
                f"{timing.median:.2f}",
                f"{timing.p95:.2f}",
                f"{timing.cpu:.2f}",
                f"{r1:.3f}",
                f"{r10:.3f}",
            ]
        )
        best = chosen.get(kind)
        if r10 >= args.target_recall and (best is None or timing.median < best[1].median):
            chosen[kind] = (f"{kind} {setting}", timing)

    def exact(n_tracks):
        n = n_tracks * per_track
        start = time.perf_counter()
        index = build_index(gallery[:n], ids[:n], starts[:n], "flat")
        build_s = time.perf_counter() - start
        times, hits = search_all(index, queries, args)
        nbytes = index_bytes(index.index)
        del index
        gc.collect()
        return times, hits, build_s, nbytes

    times, truth, build_s, nbytes = exact(args.tracks)
    add_row("flat", "exact", args.tracks, build_s, nbytes, times, truth, truth)

    if "hnsw" in args.index_types:
        n_tracks = min(args.tracks, args.hnsw_max_tracks)
        truth_h = truth if n_tracks == args.tracks else exact(n_tracks)[1]
        n = n_tracks * per_track
        start = time.perf_counter()
        index = build_index(
            gallery[:n],
            ids[:n],
            starts[:n],
            "hnsw",
            hnsw_m=args.hnsw_m,
            ef_construction=args.ef_construction,
        )
        build_s = time.perf_counter() - start
        for ef in args.ef_search:
            index.index.hnsw.efSearch = ef
            times, hits = search_all(index, queries, args)
            setting = f"M={args.hnsw_m} efC={args.ef_construction} efSearch={ef}"
            add_row(
                "hnsw", setting, n_tracks, build_s, index_bytes(index.index), times, hits, truth_h
            )
        del index
        gc.collect()

    if "ivfpq" in args.index_types:
        n_chunks = args.tracks * per_track
        nlist = min(args.nlist, max(1, n_chunks // 39))  # faiss wants >= 39 points per list
        n_train = min(args.tracks, -(-args.train_per_list * nlist // per_track)) * per_track
        start = time.perf_counter()
        index = build_index(
            gallery[:n_train],
            ids[:n_train],
            starts[:n_train],
            "ivfpq",
            nlist=nlist,
            pq_m=args.pq_m,
            nbits=8,
            nprobe=args.nprobe[0],
        )
        if n_train < n_chunks:
            index = add_to_index(index, gallery[n_train:], ids[n_train:], starts[n_train:])
        build_s = time.perf_counter() - start
        for nprobe in args.nprobe:
            index.index.nprobe = nprobe
            times, hits = search_all(index, queries, args)
            setting = f"nlist={nlist} {args.pq_m}B nprobe={nprobe}"
            add_row(
                "ivfpq", setting, args.tracks, build_s, index_bytes(index.index), times, hits, truth
            )
        del index
        gc.collect()
    return rows, chosen


# ---------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--tracks", type=int, default=1_000_000, help="gallery tracks")
    add("--chunks-per-track", type=int, default=5)
    add("--versions-per-work", type=int, default=10)
    add("--dim", type=int, default=128)
    add("--track-cos", type=float, default=0.9, help="cosine of a version to its work")
    add("--chunk-cos", type=float, default=0.95, help="cosine of a chunk to its version")
    add("--query-cos", type=float, default=0.95, help="cosine of a query chunk to its source")
    add("--queries", type=int, default=50)
    add("--query-seconds", type=float, default=240.0)
    add("--query-chunks", type=int, default=6, help="chunks of a 4-minute query at 45 s")
    add("--query-format", default="mp3", choices=["mp3", "flac"], help="decode stage of the total")
    add("--threads", type=int, default=2)
    add("--repeats", type=int, default=5, help="timed repeats of decode, CQT and model")
    add("--cqt-method", default="multirate", help="CQT used for the total")
    add("--cqt-methods", nargs="*", default=["1992v2", "2010v2", "multirate", "librosa"])
    add(
        "--cosine-tolerance",
        type=float,
        default=0.999,
        help="a model variant counts if every chunk embedding is within this cosine",
    )
    add("--index-types", nargs="+", default=["flat", "hnsw", "ivfpq"])
    add("--k-tracks", type=int, default=10)
    add("--k-chunks", type=int, default=100, help="nearest chunks fetched per query chunk")
    add("--target-recall", type=float, default=0.98)
    add("--hnsw-max-tracks", type=int, default=200_000)
    add("--hnsw-m", type=int, default=16)
    add("--ef-construction", type=int, default=40)
    add("--ef-search", type=int, nargs="+", default=[16, 32, 64, 128])
    add("--nlist", type=int, default=4096)
    add("--pq-m", type=int, default=32, help="PQ code bytes per vector (8-bit codes)")
    add("--train-per-list", type=int, default=64, help="IVF-PQ training vectors per list")
    add("--nprobe", type=int, nargs="+", default=[8, 16, 32, 64])
    add("--seed", type=int, default=0)
    add("--model-configs", nargs="+", default=["paper", "shipped"], help="models measured")
    add("--rerank-k", type=int, nargs="+", default=[10, 50, 100])
    add("--rerank-window-s", type=float, default=15.0)
    add("--rerank-hop-s", type=float, default=5.0)
    add("--identify-project", type=Path, default=None, help="a project after `kedro run`")
    add("--identify-queries", type=int, default=10, help="queries in the batch run")
    add("--identify-only", action="store_true", help="only the identify tables (section 7)")
    add("--pitch-only", action="store_true", help="only decoding, the CQT and section 8")
    add("--pitch-candidate-s", type=float, default=None, help="stored recordings' length")
    return parser.parse_args()


def rerank_rows(
    config: CoverHunterConfig, variant: str, features: np.ndarray, frame_rate: float, args
) -> dict[str, Timing]:
    """The second stage: the query's sequence by the model, then its alignment with K
    candidates' stored sequences (random unit vectors of the query's length: the alignment's
    cost depends only on the lengths)."""
    model = CoverHunter(config, generator=torch.Generator().manual_seed(0)).eval()
    fn = inference_embed_fn(model, variant)
    window = round(args.rerank_window_s * frame_rate)
    hop = round(args.rerank_hop_s * frame_rate)
    steps = embed_track_chunks(fn, features, window, batch_size=1024, hop_frames=hop)
    rows = {
        f"sequence ({steps.shape[0]} x {args.rerank_window_s:g} s)": timed(
            lambda: embed_track_chunks(fn, features, window, batch_size=1024, hop_frames=hop),
            args.repeats,
        )
    }
    query = torch.nn.functional.normalize(steps, dim=1)
    rng = torch.Generator().manual_seed(args.seed)
    for k in args.rerank_k:
        candidates = [
            torch.nn.functional.normalize(torch.randn(*steps.shape, generator=rng), dim=1)
            for _ in range(k)
        ]
        rows[f"align K={k}"] = timed(lambda c=candidates: align_candidates(query, c, 0.5), 3)
    return rows


def indexing_params() -> dict:
    """The project's conf/base/parameters_indexing.yml: what its search runs with."""
    conf = Path(__file__).resolve().parents[1] / "conf/base/parameters_indexing.yml"
    return yaml.safe_load(conf.read_text())


def pitch_settings() -> PitchSettings:
    """The project's `rerank.pitch`, switched on."""
    return PitchSettings.of({**indexing_params()["rerank"]["pitch"], "enabled": True})


def pitch_rows(features: np.ndarray, audio: np.ndarray, rate: int, args) -> list[list[str]]:
    """Section 8: the query's chroma (from its CQT or its audio, as `rerank.pitch.source`
    says), then its alignment with K stored chromas."""
    settings = pitch_settings()
    signal = peak_normalise(audio)

    def make() -> torch.Tensor:
        return recording_chroma(features, signal, rate, settings)

    chroma = make()
    made = timed(make, args.repeats)
    seconds = args.pitch_candidate_s or args.query_seconds
    length = round(len(chroma) * seconds / args.query_seconds)
    rng = torch.Generator().manual_seed(args.seed)
    rows = [[f"query chroma ({len(chroma)} x 12)", f"{made.median:.1f}", f"{made.cpu:.1f}"]]
    locating = settings.locating()
    # identify places the answers above the decision's threshold by a second alignment (the
    # other printed rows by the scoring path): one row for a recording it identifies
    answer = [torch.rand(length, 12, generator=rng)]
    located = timed(lambda: pitch_alignment(chroma, answer, locating), 3) if locating else None
    if located is not None:
        rows.append(["locate the answer (1 row)", f"{located.median:.1f}", f"{located.cpu:.1f}"])
    for k in args.rerank_k:
        candidates = [torch.rand(length, 12, generator=rng) for _ in range(k)]
        aligned = timed(lambda c=candidates: pitch_alignment(chroma, c, settings), 3)
        rows.append(
            [f"align K={k} ({length} frames each)", f"{aligned.median:.1f}", f"{aligned.cpu:.1f}"]
        )
        steps = [made, aligned] + ([located] if located is not None else [])
        rows.append(
            [
                f"pitch stage at K={k} in all",
                f"{sum(step.median for step in steps):.1f}",
                f"{sum(step.cpu for step in steps):.1f}",
            ]
        )
    return rows


IDENTIFY_TIMED = """
import sys, time
started, started_cpu = time.perf_counter(), time.process_time()
import coverhunter.cli as cli
from pathlib import Path
identifier = cli._identifier(Path.cwd(), 10, None, None)
loaded, loaded_cpu = time.perf_counter(), time.process_time()
identifier(Path(sys.argv[1]))
done, done_cpu = time.perf_counter(), time.process_time()
print("TIMES", loaded - started, loaded_cpu - started_cpu, done - loaded, done_cpu - loaded_cpu)
"""


@dataclass
class Run:
    """Wall and CPU seconds (user + system, all threads) of one child process or step."""

    wall: float
    cpu: float


def run_child(argv: list[str], cwd: Path, env: dict) -> tuple[Run, str]:
    """A child process to its end: its wall and CPU time, and its standard output."""
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0, done.stderr[-2000:]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu), done.stdout


def median_run(runs: list[Run]) -> Run:
    return Run(statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs))


def identify_rows(project: Path, query: Path, args) -> list[list[str]]:
    """`coverhunter identify` on `query` in a cold process (process start to printed answer),
    its start-up against its own compute (the node's first call, timed in a process of its own),
    `python -c "import torch"` (the floor of any start-up), and `identify-batch` per further
    query. Cold runs are measured with the CQT kernels kept (`serving/query.py`, every query but
    a machine's first) and, once, without (the first query)."""
    import shutil
    import sys

    exe = [sys.executable, "-c", "import sys; from coverhunter.cli import main; sys.exit(main())"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "XDG_CACHE_HOME": f"{tmp}/cache"}
        identify = [*exe, "identify", str(query), "--top", "10"]
        first, _ = run_child(identify, project, env)  # no kernels kept yet: it keeps them
        cold = median_run([run_child(identify, project, env)[0] for _ in range(args.repeats)])
        timed = []
        for _ in range(args.repeats):
            _, out = run_child([sys.executable, "-c", IDENTIFY_TIMED, str(query)], project, env)
            timed.append([float(x) for x in out.split("TIMES")[1].split()])
        load_wall, load_cpu, compute_wall, compute_cpu = np.median(np.array(timed), axis=0)
        compute = Run(compute_wall, compute_cpu)
        load = Run(load_wall, load_cpu)
        floor = median_run(
            [
                run_child([sys.executable, "-c", "import torch"], project, env)[0]
                for _ in range(args.repeats)
            ]
        )
        batch = Path(tmp) / "batch"
        batch.mkdir()
        for i in range(args.identify_queries):
            shutil.copy(query, batch / f"q{i:03d}{query.suffix}")
        one, _ = run_child(
            [*exe, "identify-batch", str(batch / f"q000{query.suffix}")], project, env
        )
        many, _ = run_child([*exe, "identify-batch", str(batch)], project, env)
    further = Run(
        (many.wall - one.wall) / max(args.identify_queries - 1, 1),
        (many.cpu - one.cpu) / max(args.identify_queries - 1, 1),
    )

    def row(what: str, run: Run) -> list[str]:
        return [
            what,
            f"{run.wall * 1e3:.0f}",
            f"{run.wall / compute.wall:.2f}",
            f"{run.cpu * 1e3:.0f}",
            f"{run.cpu / compute.cpu:.2f}",
        ]

    start_up = Run(cold.wall - compute.wall, cold.cpu - compute.cpu)
    first_start_up = Run(first.wall - compute.wall, first.cpu - compute.cpu)
    rows += [
        row("identify, cold process (CQT kernels kept)", cold),
        row("  its compute (the node on the query)", compute),
        row("  start-up (cold - compute)", start_up),
        row("    of which imports, catalog, model and gallery", load),
        row('    of which `python -c "import torch"` (the floor)', floor),
        row(
            "    the rest (start-up - torch)",
            Run(start_up.wall - floor.wall, start_up.cpu - floor.cpu),
        ),
        row("identify, a machine's first query (kernels made)", first),
        row("  start-up", first_start_up),
        row(f"identify-batch, per further query ({args.identify_queries} queries)", further),
    ]
    return rows


def identify_tables(args: argparse.Namespace, rng: np.random.Generator) -> None:
    """Section 7: one table per query (see `identify_rows`)."""
    import pandas as pd

    project = args.identify_project.resolve()
    manifest = pd.read_parquet(project / "data/02_intermediate/default/manifest.parquet")
    gallery = project / manifest[manifest.split == "test"].path.iloc[0]
    with tempfile.TemporaryDirectory() as tmp:
        queries = {
            f"a gallery recording ({sf.info(str(gallery)).duration:.0f} s)": gallery,
            f"a new {args.query_seconds:.0f} s recording": write_recording(
                Path(tmp) / "query.flac", args.query_seconds, rng
            ),
        }
        for name, query in queries.items():
            print_table(
                f"coverhunter identify on {name}, project {project}: median of "
                f"{args.repeats} cold processes, ratios to the query's own compute",
                ["what", "wall ms", "/ compute", "CPU ms", "/ compute"],
                identify_rows(project, query.resolve(), args),
            )


def total_rows(
    stage: dict[str, Timing], models: dict, chosen: dict, kinds: list[str], field: str
) -> list:
    """Per model and index type: the stages' `field` ("median" or "cpu"), sums, ratios to 316."""
    paper = PAPER_MS["total"]
    rows = []
    for config_name, (variant, model_timing) in models.items():
        for kind in kinds:
            if kind not in chosen:
                rows.append([config_name, kind, "no setting reached the target recall"])
                rows[-1] += [""] * 8
                continue
            label, retrieval = chosen[kind]
            parts = [getattr(stage[name], field) for name in ("decode", "CQT")]
            parts += [getattr(model_timing, field), getattr(retrieval, field)]
            counted = sum(parts[1:])  # what Table III counts: CQT, model, retrieval
            total = parts[0] + counted
            rows.append(
                [
                    f"{config_name} {variant}",
                    label,
                    *(f"{p:.1f}" for p in parts),
                    f"{counted:.1f}",
                    f"{counted / paper:.2f}",
                    f"{total:.1f}",
                    f"{total / paper:.2f}",
                ]
            )
    return rows


def print_pitch_table(features: np.ndarray, audio: np.ndarray, rate: int, args) -> None:
    settings = pitch_settings()
    print_table(
        f"Pitch stage of the re-rank on a {args.query_seconds:.0f} s query ({settings.source} "
        f"chroma, {settings.average_frames} frames averaged, stack {settings.stack})",
        ["step", "median ms", "CPU ms"],
        pitch_rows(features, audio, rate, args),
    )


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    print(machine_header(args))
    print(precision_line())
    if args.identify_only:
        if args.identify_project is None:
            raise SystemExit("--identify-only needs --identify-project")
        identify_tables(args, rng)
        print(f"\nload average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
        return
    config = CQTConfig()
    stage: dict[str, Timing] = {}

    with tempfile.TemporaryDirectory() as tmp:
        paths = write_recordings(Path(tmp), args.query_seconds, rng)
        decoding = decode_rows(paths, config.sample_rate, args.repeats)
        stage["decode"] = timed(
            lambda: decode(paths[args.query_format], config.sample_rate), args.repeats
        )
        audio = decode(paths["flac"], config.sample_rate)
    print_table(
        f"Decoding a {args.query_seconds:.0f} s query to {config.sample_rate} Hz mono float32 "
        f"(libsndfile {sf.__libsndfile_version__}); the total uses {args.query_format}",
        ["step", "median ms", "p95 ms", "CPU ms"],
        [[k, f"{t.median:.1f}", f"{t.p95:.1f}", f"{t.cpu:.1f}"] for k, t in decoding.items()],
    )

    cqt = cqt_rows(audio, config, args.cqt_methods, args.repeats)
    print_table(
        f"CQT of one {args.query_seconds:.0f} s query ({len(audio)} samples at "
        f"{config.sample_rate} Hz, hop {config.hop_length}; paper {PAPER_MS['CQT']:.0f} ms)",
        ["implementation", "median ms", "p95 ms", "CPU ms", "dB vs 1992v2 > -60 dB: max", "median"],
        [
            [k, f"{t.median:.1f}", f"{t.p95:.1f}", f"{t.cpu:.1f}", f"{dmax:.4f}", f"{dmed:.4f}"]
            for k, (t, (dmax, dmed)) in cqt.items()
        ],
    )
    extractor = CQTExtractor(CQTConfig(method=args.cqt_method))
    stage["CQT"] = timed(lambda: log_cqt(audio, extractor), args.repeats)
    features = log_cqt(audio, extractor)
    if args.pitch_only:
        print_pitch_table(features, audio, config.sample_rate, args)
        print(f"\nload average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
        return

    chunk_frames = round(45.0 * config.frame_rate)
    n_chunks = -(-features.shape[0] // chunk_frames)
    min_tail = round(indexing_params()["indexing"]["min_tail_s"] * config.frame_rate)
    chosen_models = {}
    for config_name, model_config in chosen_configs(args).items():
        rows = model_rows(
            model_config, features, chunk_frames, min_tail, args.repeats, args.threads
        )
        size = (
            f"{model_config.n_blocks} x {model_config.d_model}, FFN {model_config.ffn_dim}, "
            f"subsampling {model_config.subsampling_channels or model_config.d_model} channels"
        )
        print_table(
            f"Model, {config_name} configuration ({size}) on {n_chunks} chunks of 45 s "
            f"(the last {features.shape[0] % chunk_frames} frames); paper {PAPER_MS['model']:.0f} ms",
            ["variant", "median ms", "p95 ms", "CPU ms", "worst cosine to float32"],
            [
                [k, f"{t.median:.1f}", f"{t.p95:.1f}", f"{t.cpu:.1f}", f"{c:.6f}"]
                for k, (t, c) in rows.items()
            ],
        )
        usable = {
            k: v
            for k, v in rows.items()
            if k in ("float32", "bfloat16", "int8") and v[1] >= args.cosine_tolerance
        }
        best = min(usable, key=lambda k: usable[k][0].median)
        chosen_models[config_name] = (best, usable[best][0])

    gallery = make_gallery(args, rng)
    width = len(str(args.tracks))  # compact fixed-width ids, as a real collection's would be
    track_ids = np.array([f"t{i:0{width}d}" for i in range(args.tracks)])
    ids = np.repeat(track_ids, args.chunks_per_track)
    starts = np.tile(np.arange(args.chunks_per_track) * 45.0, args.tracks)
    queries = make_queries(gallery, min(args.tracks, args.hnsw_max_tracks), args, rng)
    rows, chosen = retrieval_rows(args, gallery, ids, starts, queries)
    id_map_mb = (ids.nbytes + starts.nbytes) / 1e6 * 1e6 / args.tracks
    print_table(
        f"Retrieval: {args.queries} queries of {args.query_chunks} chunks, top {args.k_tracks} "
        f"tracks from {args.k_chunks} chunks per query chunk; recall vs exact search on the same "
        f"gallery; memory = faiss structures (the perf-id map adds {id_map_mb:.0f} MB per "
        f"million tracks); paper {PAPER_MS['retrieval']:.0f} ms",
        [
            "index",
            "setting",
            "tracks",
            "build s",
            "MB/M tracks",
            "median ms",
            "p95 ms",
            "CPU ms",
            "recall@1",
            "recall@10",
        ],
        rows,
    )

    paper = PAPER_MS["total"]
    header = [
        "model",
        "index",
        f"decode ({args.query_format})",
        "CQT",
        "model",
        "retrieval",
        "CQT+model+retrieval",
        f"/ {paper:.0f}",
        "with decode",
        f"/ {paper:.0f}",
    ]
    what = (
        f"CQT {args.cqt_method}, {args.tracks:,} tracks, recall@10 >= {args.target_recall}; "
        f"Table III ({paper:.0f} ms) counts CQT + model + retrieval, not decoding"
    )
    print_table(
        f"Total per query, wall-clock medians in ms ({what})",
        header,
        total_rows(stage, chosen_models, chosen, args.index_types, "median"),
    )
    print_table(
        "Total per query, CPU time in ms (all threads; the work, whatever the machine's load)",
        header,
        total_rows(stage, chosen_models, chosen, args.index_types, "cpu"),
    )
    cheapest = min(chosen.values(), key=lambda c: c[1].cpu, default=None)
    for config_name, model_config in chosen_configs(args).items():
        variant, model_timing = chosen_models[config_name]
        rows = rerank_rows(model_config, variant, features, config.frame_rate, args)
        sequence = next(t for name, t in rows.items() if name.startswith("sequence"))
        path = {
            field: getattr(stage["CQT"], field)
            + getattr(model_timing, field)
            + (getattr(cheapest[1], field) if cheapest else 0.0)
            for field in ("median", "cpu")
        }
        table = [[name, f"{t.median:.1f}", f"{t.cpu:.1f}", "", ""] for name, t in rows.items()]
        for k in args.rerank_k:
            wall = sequence.median + rows[f"align K={k}"].median
            cpu = sequence.cpu + rows[f"align K={k}"].cpu
            table.append(
                [
                    f"re-rank at K={k} in all",
                    f"{wall:.1f}",
                    f"{cpu:.1f}",
                    f"{wall / path['median']:.2f}",
                    f"{cpu / path['cpu']:.2f}",
                ]
            )
        print_table(
            f"Second stage, {config_name} model ({variant}): the query's sequence and the "
            f"alignment; ratio to the embedding path (CQT + model + {cheapest[0] if cheapest else '-'}"
            f" retrieval = {path['median']:.1f} ms wall, {path['cpu']:.1f} ms CPU)",
            ["step", "median ms", "CPU ms", "/ path, wall", "/ path, CPU"],
            table,
        )
    print_pitch_table(features, audio, config.sample_rate, args)
    if args.identify_project is not None:
        identify_tables(args, rng)
    print(f"\nload average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
