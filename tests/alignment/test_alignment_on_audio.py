"""Alignment from audio the test builds: CQT, 15 s chunks on the 7.52 s grid, offset mode.

The chunk embedder is a fixed, non-learned one (the chunk's CQT pooled to one frame a second,
centred and normalised): the test is about the chain from recordings to aligned pairs, not
about a trained model.
"""

import numpy as np
import pandas as pd
import pytest
import torch

from coverhunter.alignment.match import align_collection
from coverhunter.alignment.pairs import aligned_pairs_table
from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt
from coverhunter.retrieval.chunk_table import embed_chunk_table, embedding_matrix

RATE = 16000
CQT = CQTConfig()
HOP_FRAMES = round(7.5 * CQT.frame_rate)  # 188 frames = 7.52 s
HOP_S = HOP_FRAMES / CQT.frame_rate


def _melody(rng: np.random.Generator, seconds: float, pitches=tuple(range(36))) -> np.ndarray:
    """Random notes (semitones above 110 Hz, drawn from `pitches`) with harmonics."""
    notes = []
    while sum(len(n) for n in notes) < seconds * RATE:
        duration = rng.choice([0.25, 0.5, 0.75])
        t = np.arange(int(duration * RATE)) / RATE
        freq = 110.0 * 2 ** (rng.choice(pitches) / 12)
        tone = sum(np.sin(2 * np.pi * freq * k * t) / k for k in (1, 2, 3))
        notes.append((tone * np.hanning(len(t))).astype(np.float32))
    return np.concatenate(notes)[: int(seconds * RATE)]


@pytest.fixture(scope="module")
def recordings():
    rng = np.random.default_rng(7)
    song = _melody(rng, 60.0)
    prelude = _melody(np.random.default_rng(99), 2 * HOP_S)  # unrelated music, two hops long
    other = _melody(np.random.default_rng(123), 60.0)
    audio = {
        "12": song,  # the original
        "112": np.concatenate([prelude, song]),  # a version with a 15.04 s prelude
        "120": song.copy(),  # an unshifted copy
        "7": other,  # another work
        # unrelated to "7": a cluster of three neighbouring semitones, not the whole range
        "70": _melody(np.random.default_rng(321), 60.0, pitches=(12, 13, 14, 24, 25, 26)),
    }
    extractor = CQTExtractor(CQT)
    return {perf_id: log_cqt(signal, extractor) for perf_id, signal in audio.items()}


def _pooled_cqt(cqt: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T, F) -> (B, D): one-second means of the chunk, centred, unit length."""
    frames = int(CQT.frame_rate)
    blocks = cqt[:, : cqt.shape[1] // frames * frames].unfold(1, frames, frames).mean(-1)
    flat = blocks.flatten(1)
    return torch.nn.functional.normalize(flat - flat.mean(dim=1, keepdim=True), dim=1)


def _aligned(features, performances):
    table = embed_chunk_table(
        _pooled_cqt,
        pd.DataFrame(performances, columns=["perf_id", "work_id"]),
        features,
        chunk_frames=round(15.0 * CQT.frame_rate),
        hop_frames=HOP_FRAMES,
        frame_rate=CQT.frame_rate,
        min_tail_frames=HOP_FRAMES,
    )
    results = align_collection(table, embedding_matrix(table), threshold=0.9, min_matches=2)
    return aligned_pairs_table(results, HOP_S)


def test_known_prelude_and_offset_zero_are_recovered(recordings):
    pairs, unaligned = _aligned(
        recordings, [("12", "W1"), ("112", "W1"), ("120", "W1"), ("7", "W2"), ("70", "W2")]
    )
    found = {(row.perf_a, row.perf_b): row.offset_s for row in pairs.itertuples()}
    # "112" sorts before "12": the prelude is in perf_a, so b starts two hops earlier
    assert found[("112", "12")] == pytest.approx(-2 * HOP_S)
    assert found[("112", "120")] == pytest.approx(-2 * HOP_S)
    assert found[("12", "120")] == 0.0  # an unshifted copy aligns at offset 0
    row = pairs.set_index(["perf_a", "perf_b"]).loc[("112", "12")]
    assert row.start_a_s == pytest.approx(row.start_b_s + 2 * HOP_S)
    # two different pieces filed under one work are reported unaligned, not forced
    assert ("7", "70") not in found
    assert list(unaligned[["perf_a", "perf_b"]].itertuples(index=False, name=None)) == [("7", "70")]


def test_an_id_that_is_a_prefix_of_another_is_not_confused(recordings):
    # "12" and "112" in different works: no pair between them may appear
    pairs, unaligned = _aligned(recordings, [("12", "A"), ("120", "A"), ("112", "B"), ("7", "B")])
    tried = set(pairs[["perf_a", "perf_b"]].itertuples(index=False, name=None)) | set(
        unaligned[["perf_a", "perf_b"]].itertuples(index=False, name=None)
    )
    assert tried == {("12", "120"), ("112", "7")}
    assert pairs.set_index(["perf_a", "perf_b"]).loc[("12", "120"), "offset_s"] == 0.0
