"""Whole-track chunk embedding on the shared chunk grid."""

import logging

import numpy as np
import pytest
import torch

from coverhunter.retrieval.embed import (
    Embedder,
    embed_collection,
    embed_track_chunks,
    inference_embed_fn,
)


class FirstFrameAndLength:
    """An embedder whose output says which chunk it saw: (first frame's value, chunk length)."""

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []

    def __call__(self, cqt: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        assert cqt.ndim == 3 and lengths.ndim == 1
        self.batch_sizes.append(cqt.shape[0])
        return torch.stack([cqt[:, 0, 0], lengths.float()], dim=1)


def _features(n_frames: int) -> np.ndarray:
    return np.stack([np.arange(n_frames), np.ones(n_frames)], axis=1).astype(np.float32)


def test_rows_follow_the_chunk_grid_with_the_tail_kept():
    embed = FirstFrameAndLength()
    out = embed_track_chunks(embed, _features(10), chunk_frames=4, batch_size=2)
    # Starts 0, 4 (full) and 8 (tail of 2 frames, kept and padded).
    assert out.tolist() == [[0.0, 4.0], [4.0, 4.0], [8.0, 2.0]]
    assert embed.batch_sizes == [2, 1]


def test_overlapping_hop_and_dropped_short_tail():
    out = embed_track_chunks(
        FirstFrameAndLength(),
        _features(10),
        chunk_frames=4,
        batch_size=8,
        hop_frames=3,
        min_tail_frames=2,
    )
    # Grid 0, 3, 6 covers frames 0..9 entirely: no tail.
    assert out.tolist() == [[0.0, 4.0], [3.0, 4.0], [6.0, 4.0]]
    short_tail = embed_track_chunks(
        FirstFrameAndLength(), _features(9), chunk_frames=4, batch_size=8, min_tail_frames=2
    )
    assert short_tail[:, 0].tolist() == [0.0, 4.0]  # 1 frame after 8 is fewer than 2


def test_embed_collection_stacks_tracks_with_ids_and_seconds():
    chunks, perf_ids, starts_s = embed_collection(
        FirstFrameAndLength(),
        [("12", _features(10)), ("112", _features(3))],
        chunk_frames=4,
        batch_size=4,
        frame_rate=2.0,
    )
    assert chunks[:, 0].tolist() == [0.0, 4.0, 8.0, 0.0]
    assert perf_ids.tolist() == ["12", "12", "12", "112"]
    assert starts_s.tolist() == [0.0, 2.0, 4.0, 0.0]


def test_bad_batch_size_is_rejected():
    with pytest.raises(ValueError, match="batch_size"):
        embed_track_chunks(FirstFrameAndLength(), _features(4), chunk_frames=2, batch_size=0)


def _tiny_model():
    from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig

    config = CoverHunterConfig(
        d_model=16, n_heads=2, ffn_dim=32, n_blocks=1, subsampling_channels=4, embedding_dim=8
    )
    return CoverHunter(config, generator=torch.Generator().manual_seed(0))


def test_inference_embed_fn_precisions_stay_close_to_float32():
    model = _tiny_model()
    features = torch.randn(100, 96, generator=torch.Generator().manual_seed(1))
    exact = embed_track_chunks(model.eval().embed, features, chunk_frames=40, batch_size=3)
    float32 = embed_track_chunks(inference_embed_fn(model), features, 40, batch_size=3)
    assert not model.training and torch.equal(float32, exact)
    for precision in ("bfloat16", "int8"):
        out = embed_track_chunks(inference_embed_fn(model, precision), features, 40, 3)
        assert out.shape == (3, 8) and (out * exact).sum(1).min() > 0.99, precision


def test_inference_embed_fn_rejects_unknown_precision():
    with pytest.raises(ValueError, match="float16"):
        inference_embed_fn(_tiny_model(), "float16")


def test_embedder_carries_the_model_device_and_precision():
    model = _tiny_model()
    for precision in ("float32", "bfloat16"):
        embedder = inference_embed_fn(model, precision)
        assert isinstance(embedder, Embedder)
        assert (embedder.device, embedder.precision) == (torch.device("cpu"), precision)
    assert inference_embed_fn(model, "float32", "cpu").device == torch.device("cpu")


# "meta" exists on every machine and holds no data: a chunk sent there cannot be embedded
@pytest.mark.parametrize("asked", ["cuda", "cuda:1", "meta"])
def test_int8_embeds_on_the_cpu_whatever_device_is_asked(asked, caplog):
    model = _tiny_model()
    features = torch.randn(100, 96, generator=torch.Generator().manual_seed(1))
    with caplog.at_level(logging.INFO, logger="coverhunter.retrieval.embed"):
        embedder = inference_embed_fn(model, "int8", asked)
    assert embedder.device == torch.device("cpu") and embedder.precision == "int8"
    assert f"int8 embedding runs on the CPU only: embedding on cpu, not {asked}" in caplog.text
    on_cpu = embed_track_chunks(inference_embed_fn(model, "int8"), features, 40, 3)
    # the device argument is for bare functions; the embedder's chunks stay on its CPU
    out = embed_track_chunks(embedder, features, 40, 3, device=asked)
    assert out.device == torch.device("cpu") and torch.equal(out, on_cpu)
    chunks, _, _ = embed_collection(
        embedder, [("a", features)], 40, batch_size=3, frame_rate=25.0, device=asked
    )
    assert torch.equal(chunks, on_cpu)


def test_int8_on_the_cpu_logs_nothing_about_devices(caplog):
    with caplog.at_level(logging.INFO, logger="coverhunter.retrieval.embed"):
        assert inference_embed_fn(_tiny_model(), "int8", "cpu").device == torch.device("cpu")
    assert "CPU only" not in caplog.text


def test_a_bare_function_runs_on_the_device_it_is_given():
    seen = []

    def embed(cqt: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        seen.append((cqt.device, lengths.device))
        return torch.zeros(cqt.shape[0], 2)

    embed_track_chunks(embed, _features(4), 2, 2, device="meta")
    assert seen == [(torch.device("meta"), torch.device("meta"))]
