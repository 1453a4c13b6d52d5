"""The CUDA paths end to end: training, alignment, indexing, identify and the CQT on a GPU.

Skipped where `torch.cuda.is_available()` is False (every CPU machine, so the rest of the suite
never needs a GPU). On a GPU machine `benchmarks/gpu_check.sh` runs this module first. It needs
torch, numpy, pandas, nnAudio, faiss and soundfile; nothing here imports mlflow, Kedro, music21
or essentia, so it runs on a bare machine with only those wheels added.

The collection is generated: works of random log-CQT-like features, whose versions are the same
base features shifted by whole alignment hops (so alignment has a known answer), and for
identify and the CQT, tone sequences rendered as audio. The model is small; the module takes
seconds on a GPU.
"""

from __future__ import annotations

import copy
import math
import wave
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from coverhunter.alignment.match import align_collection
from coverhunter.audio.augment import AugmentConfig, Augmenter
from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt_batch
from coverhunter.audio.io import peak_normalise
from coverhunter.data.batches import CoarseBatchSource, SamplerConfig
from coverhunter.data.feature_store import FeatureStore, FeatureStoreWriter
from coverhunter.data.loader import LoaderConfig
from coverhunter.evaluation.collection import EmbedSettings, TrackSet, make_validator
from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.model.losses import CoverHunterLoss, LossConfig
from coverhunter.retrieval.chunk_table import embed_chunk_table, embedding_matrix
from coverhunter.retrieval.embed import PRECISIONS, inference_embed_fn
from coverhunter.retrieval.gallery import ChunkSettings, index_from_table
from coverhunter.retrieval.index import search_tracks
from coverhunter.retrieval.quantize import cosine_agreement
from coverhunter.retrieval.works import rank_works
from coverhunter.serving.query import embed_audio_file
from coverhunter.training.config import TrainingConfig
from coverhunter.training.loop import train

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="CUDA is not available: these checks run on a GPU machine (benchmarks/gpu_check.sh)",
)

DEVICE = "cuda"
N_BINS, FRAME_RATE = 96, 25.0
N_WORKS, N_VERSIONS = 6, 3
TRACK_FRAMES = 750  # 30 s
CHUNK_FRAMES, HOP_FRAMES = 100, 50  # training: 4 s chunks on a 2 s grid; alignment: 2 s chunks
SHIFT_HOPS = 1  # version v starts v * SHIFT_HOPS hops into its work's base features
GALLERY_CHUNK_FRAMES = 250  # 10 s, non-overlapping (indexing)


def _perf_id(work: int, version: int) -> str:
    return f"w{work}_v{version}"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> FeatureStore:
    """N_WORKS x N_VERSIONS tracks; version v = its work's base features from frame v * shift."""
    rng = np.random.default_rng(0)
    shift = SHIFT_HOPS * HOP_FRAMES
    with FeatureStoreWriter(tmp_path_factory.mktemp("features")) as writer:
        for work in range(N_WORKS):
            profile = rng.uniform(-50.0, -10.0, N_BINS)  # each work its own spectral shape
            base = profile + rng.normal(0.0, 8.0, (TRACK_FRAMES + N_VERSIONS * shift, N_BINS))
            base = np.minimum(base, 0.0)
            for version in range(N_VERSIONS):
                start = version * shift
                writer.append(
                    _perf_id(work, version), base[start : start + TRACK_FRAMES], "generated"
                )
        return writer.commit()


@pytest.fixture(scope="module")
def items(store) -> pd.DataFrame:
    perf_ids = sorted(store)
    return pd.DataFrame({"perf_id": perf_ids, "work_id": [p.split("_")[0] for p in perf_ids]})


class _DeviceLog:
    """A `MetricLogger` that notes where the model's parameters are whenever it is called."""

    def __init__(self, model: CoverHunter):
        self.model = model
        self.devices: list[str] = []

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.devices.append(next(self.model.parameters()).device.type)

    def log_params(self, params: dict) -> None:
        pass


@pytest.fixture(scope="module")
def trained(store, items, tmp_path_factory) -> SimpleNamespace:
    """Six steps of a small CoverHunter on CUDA: bf16 autocast, 2 pinned loader workers,
    validation on CUDA at steps 3 and 6; with what was seen along the way."""
    sampler = SamplerConfig(
        p_works=4,
        k_items=2,
        frame_rate=FRAME_RATE,
        chunk_s=CHUNK_FRAMES / FRAME_RATE,
        chunk_hop_s=HOP_FRAMES / FRAME_RATE,
    )
    source = CoarseBatchSource(
        store, items, sampler, Augmenter(AugmentConfig(noise_prob=0.0)), seed=0
    )
    config = CoverHunterConfig(
        n_bins=N_BINS, d_model=32, n_heads=2, ffn_dim=64, n_blocks=1, kernel_size=5,
        embedding_dim=16, n_classes=source.n_classes,
    )  # fmt: skip
    model = CoverHunter(config, generator=torch.Generator().manual_seed(0))
    loss_fn = CoverHunterLoss(
        LossConfig(), source.n_classes, config.embedding_dim, source.class_counts
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}

    seen = SimpleNamespace(forward=[], validated_on=[])

    def note_forward(module, inputs, output):
        if module.training:
            seen.forward.append((output.device.type, output.dtype))

    hook = model.bottleneck.register_forward_hook(note_forward)
    validator = make_validator(
        TrackSet(list(items.perf_id), list(items.work_id), store.float32()),
        EmbedSettings(
            chunk_frames=GALLERY_CHUNK_FRAMES,
            frame_rate=FRAME_RATE,
            batch_size=8,
            device=DEVICE,
            min_tail_frames=model.min_frames,
        ),
    )

    def validate(model: CoverHunter) -> float:
        seen.validated_on.append(next(model.parameters()).device.type)
        return validator(model)

    log = _DeviceLog(model)
    torch.cuda.reset_peak_memory_stats()
    result = train(
        model,
        loss_fn,
        source,
        TrainingConfig(
            max_steps=6,
            log_every=2,
            validate_every=3,
            checkpoint_every=0,
            device=DEVICE,
            mixed_precision=True,
            amp_dtype="bfloat16",
            seed=0,
        ),
        checkpoint_dir=tmp_path_factory.mktemp("checkpoints"),
        validate=validate,
        logger=log,
        loader=LoaderConfig(num_workers=2, pin_memory=True),
    )
    hook.remove()
    return SimpleNamespace(
        result=result,
        before=before,
        log=log,
        seen=seen,
        peak_memory=torch.cuda.max_memory_allocated(),
    )


def test_training_on_cuda_with_bf16_autocast_and_loader_workers(trained):
    result, seen = trained.result, trained.seen
    assert result.steps == 6
    losses = [record["loss/total"] for record in result.history if "loss/total" in record]
    assert len(losses) == 3 and all(math.isfinite(loss) for loss in losses)
    maps = [record["val/mAP"] for record in result.history if "val/mAP" in record]
    assert len(maps) == 2 and all(0.0 <= value <= 1.0 for value in maps)
    # Every training forward ran on the GPU under bfloat16 autocast; the model sat on the GPU
    # whenever metrics were logged and whenever it was validated.
    assert len(seen.forward) == 6
    assert set(seen.forward) == {("cuda", torch.bfloat16)}
    assert trained.log.devices and set(trained.log.devices) == {"cuda"}
    assert seen.validated_on == ["cuda", "cuda"]
    assert trained.peak_memory > 0
    # The contract: the returned model is on the CPU, in eval mode, and it was trained.
    model = result.model
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    assert not model.training
    changed = [
        name
        for name, value in model.state_dict().items()
        if value.dtype.is_floating_point and not torch.equal(value, trained.before[name])
    ]
    assert "bottleneck.weight" in changed and "classifier.weight" in changed


def test_alignment_of_chunk_tables_embedded_on_cuda(trained, store, items):
    model = copy.deepcopy(trained.result.model)
    # Non-overlapping chunks one hop long: a chunk's twin in another version holds the very same
    # frames, and no other chunk shares any frame with it.
    settings = {
        "chunk_frames": HOP_FRAMES,
        "hop_frames": HOP_FRAMES,
        "frame_rate": FRAME_RATE,
        "min_tail_frames": HOP_FRAMES,
        "batch_size": 16,
    }
    on_cpu = embed_chunk_table(model.embed, items, store.float32(), device="cpu", **settings)
    model.to(DEVICE).eval()
    table = embed_chunk_table(model.embed, items, store.float32(), device=DEVICE, **settings)
    assert len(table) == len(items) * TRACK_FRAMES // HOP_FRAMES
    gpu, cpu = embedding_matrix(table), embedding_matrix(on_cpu)
    assert float((gpu * cpu).sum(axis=1).min()) > 0.999  # the GPU embeds as the CPU does

    pairs = align_collection(table, gpu, threshold=0.9999, min_matches=3)
    assert len(pairs) == N_WORKS * N_VERSIONS * (N_VERSIONS - 1) // 2
    version = {p: int(p.split("_v")[1]) for p in items.perf_id}
    expected = [
        -SHIFT_HOPS * (version[b] - version[a])
        for a, b in zip(pairs.perf_a, pairs.perf_b, strict=True)
    ]
    assert pairs.aligned.all()
    assert pairs.delta.tolist() == expected


def test_indexing_on_cuda_in_every_precision(trained, store, items):
    settings = {
        "chunk_frames": GALLERY_CHUNK_FRAMES,
        "hop_frames": GALLERY_CHUNK_FRAMES,
        "frame_rate": FRAME_RATE,
        "min_tail_frames": 25,
        "batch_size": 8,
    }
    tables = {}
    for precision in PRECISIONS:
        embedder = inference_embed_fn(copy.deepcopy(trained.result.model), precision, DEVICE)
        assert embedder.device.type == ("cpu" if precision == "int8" else "cuda"), precision
        tables[precision] = embed_chunk_table(
            embedder, items, store.float32(), device=DEVICE, **settings
        )
    reference = torch.from_numpy(embedding_matrix(tables["float32"]))
    assert (
        cosine_agreement(reference, torch.from_numpy(embedding_matrix(tables["bfloat16"]))) > 0.99
    )
    assert cosine_agreement(reference, torch.from_numpy(embedding_matrix(tables["int8"]))) > 0.9

    for precision, table in tables.items():
        index = index_from_table(table, {"type": "flat"})
        assert index.n_chunks == len(table)
        codes, tracks = pd.factorize(table.perf_id)
        hits = search_tracks(
            index, embedding_matrix(table), k_tracks=3, k_chunks=8, query_track_ids=codes
        )
        assert [h.perf_ids[0] for h in hits] == list(tracks), precision
        assert max(float(h.distances[0]) for h in hits) < 1e-4, precision


# ---------------------------------------------------------------- audio: identify and the CQT


def _tones(seconds: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    """A sequence of random three-note chords with harmonics (one every 0.5 s), over a faint
    noise floor: every CQT bin holds something, as in a recording."""
    n = round(seconds * rate)
    t = np.arange(n) / rate
    signal = np.zeros(n)
    step = rate // 2
    for start in range(0, n, step):
        part = slice(start, start + step)
        for midi in rng.integers(36, 84, size=3):
            f0 = 440.0 * 2.0 ** ((midi - 69) / 12)
            for harmonic in (1, 2, 3):
                if harmonic * f0 < rate / 2:
                    signal[part] += np.sin(2 * np.pi * harmonic * f0 * t[part]) / harmonic
    signal += 0.01 * rng.standard_normal(n)
    return (signal / np.abs(signal).max()).astype(np.float32)


def _write_wav(path: Path, signal: np.ndarray, rate: int) -> Path:
    """16-bit mono PCM with the standard library (no soundfile needed to write it)."""
    pcm = np.clip(np.round(signal * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    return path


def test_identify_on_cuda_ranks_a_noisy_copy_under_its_own_work(trained, tmp_path):
    cqt = CQTConfig()
    rng = np.random.default_rng(1)
    signals = [peak_normalise(_tones(20.0, cqt.sample_rate, rng)) for _ in range(4)]
    work_of = {f"g{i}": f"work{i}" for i in range(len(signals))}
    extractor = CQTExtractor(cqt).to(DEVICE)
    features = dict(zip(work_of, log_cqt_batch(signals, extractor, DEVICE), strict=True))

    model = copy.deepcopy(trained.result.model)
    chunking = ChunkSettings(chunk_s=8.0, min_tail_s=2.0)
    chunk_frames, min_tail_frames = chunking.frames(cqt.frame_rate, model.min_frames)
    embedder = inference_embed_fn(model, "float32", DEVICE)
    gallery = embed_chunk_table(
        embedder,
        pd.DataFrame({"perf_id": list(work_of), "work_id": list(work_of.values())}),
        features,
        chunk_frames=chunk_frames,
        hop_frames=chunk_frames,
        frame_rate=cqt.frame_rate,
        min_tail_frames=min_tail_frames,
        batch_size=8,
        device=DEVICE,
    )
    index = index_from_table(gallery, {"type": "flat"})

    target = 2
    noisy = signals[target] + 0.003 * rng.standard_normal(len(signals[target])).astype(np.float32)
    path = _write_wav(tmp_path / "query.wav", noisy / np.abs(noisy).max(), cqt.sample_rate)
    query = embed_audio_file(
        path,
        embedder,
        cqt,
        chunking,
        batch_size=8,
        min_frames=model.min_frames,
        device=DEVICE,
    )
    assert query.chunks.device.type == "cpu"
    assert query.duration_s == pytest.approx(20.0)
    hits = search_tracks(index, query.chunks, k_tracks=len(work_of), k_chunks=index.n_chunks)
    ranking = rank_works(hits[0], work_of, query.starts_s, top_works=len(work_of))
    assert ranking.work_id.iloc[0] == f"work{target}"
    assert ranking.perf_id.iloc[0] == f"g{target}"


def test_cqt_on_cuda_matches_the_cpu():
    """A batch of two signals of different lengths gives the CPU's frames on the GPU: to float32
    rounding with cuDNN in full float32, within what TF32 rounding allows with cuDNN's default
    (TF32 convolutions: about 0.04 dB on loud cells, 0.3 dB at -60 dB when emulated on the CPU).
    """
    cqt = CQTConfig()
    rng = np.random.default_rng(2)
    signals = [_tones(3.0, cqt.sample_rate, rng), _tones(5.3, cqt.sample_rate, rng)]
    extractor = CQTExtractor(cqt)
    on_cpu = log_cqt_batch(signals, extractor, "cpu")
    on_gpu = copy.deepcopy(extractor).to(DEVICE)
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        exact = log_cqt_batch(signals, on_gpu, DEVICE)
    default = log_cqt_batch(signals, on_gpu, DEVICE)
    for signal, cpu, gpu, gpu_tf32 in zip(signals, on_cpu, exact, default, strict=True):
        assert gpu.shape == gpu_tf32.shape == cpu.shape == (cqt.n_frames(len(signal)), cqt.n_bins)
        assert np.isfinite(gpu).all() and np.isfinite(gpu_tf32).all()
        assert gpu.max() == gpu_tf32.max() == 0.0  # each row's peak is 0 dB
        audible = cpu > -60.0
        assert np.abs(gpu - cpu)[audible].max() < 0.01  # dB
        assert np.abs(gpu_tf32 - cpu)[cpu > -40.0].max() < 0.1
        assert np.abs(gpu_tf32 - cpu)[audible].max() < 1.0
        assert (gpu_tf32.argmax(axis=1) == cpu.argmax(axis=1)).mean() > 0.99
