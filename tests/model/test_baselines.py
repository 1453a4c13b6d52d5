"""The key-invariant chroma baseline embedder."""

import pytest
import torch

from coverhunter.model.baselines import ChromaBaseline


def _cqt(batch: int, frames: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return -60 * torch.rand(batch, frames, 96, generator=gen)  # dB below the track maximum


def test_unit_rows_of_the_stated_size():
    baseline = ChromaBaseline(pool_frames=5, patch_steps=4)
    emb = baseline.embed(_cqt(2, 40, 0), torch.tensor([40, 30]))
    assert emb.shape == (2, baseline.embedding_dim) == (2, 7 + 7 + 4 * 7)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(2))


@pytest.mark.parametrize("semitones", [1, 5, -3, 12])
def test_transposing_by_whole_semitones_leaves_the_embedding_unchanged(semitones):
    baseline = ChromaBaseline(pool_frames=5, patch_steps=4)
    cqt, lengths = _cqt(2, 40, 1), torch.tensor([40, 33])
    moved = torch.roll(cqt, shifts=semitones, dims=2)
    torch.testing.assert_close(baseline.embed(moved, lengths), baseline.embed(cqt, lengths))


def test_different_inputs_differ():
    baseline = ChromaBaseline(pool_frames=5, patch_steps=4)
    a = baseline.embed(_cqt(1, 40, 2), torch.tensor([40]))
    b = baseline.embed(_cqt(1, 40, 3), torch.tensor([40]))
    assert (a - b).abs().max() > 1e-3


def test_padding_frames_are_ignored():
    baseline = ChromaBaseline(pool_frames=5, patch_steps=2)
    cqt = _cqt(1, 23, 4)
    padded = torch.cat([cqt, torch.full((1, 17, 96), 7.0)], dim=1)
    lengths = torch.tensor([23])
    torch.testing.assert_close(baseline.embed(padded, lengths), baseline.embed(cqt, lengths))


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="n_bins"):
        ChromaBaseline(n_bins=90)
    with pytest.raises(ValueError, match="bins"):
        ChromaBaseline().embed(torch.zeros(1, 4, 84), torch.tensor([4]))
