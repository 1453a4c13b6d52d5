import pytest
import torch

from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.model.front_end import FLOOR_DB, ChromaLags, pool_frames

N_BINS = 96


def _cqt(frames: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(1, frames, N_BINS, generator=torch.Generator().manual_seed(seed)) * 10 - 40


def _notes(pitch_classes: list[int]) -> torch.Tensor:
    """One frame per pitch class, that class's bin loud in octave 3, the rest at the floor."""
    cqt = torch.full((1, len(pitch_classes), N_BINS), FLOOR_DB)
    for t, pitch_class in enumerate(pitch_classes):
        cqt[0, t, 36 + pitch_class] = 0.0
    return cqt


def test_lags_hold_the_interval_from_each_frame_to_the_one_d_later():
    # C then E then G: a major third up, then a minor third; lag 2 spans the fifth
    lags = ChromaLags((0, 1, 2))(_notes([0, 4, 7]), torch.tensor([3]))
    loud = lags[0] > -1.0  # 0 dB where the whole chroma mass sits
    lag0, lag1, lag2 = loud[:, :12], loud[:, 12:24], loud[:, 24:]
    assert lag0[:, 0].all() and lag0.sum() == 3  # a single note: interval 0 with itself
    assert lag1[0].nonzero().flatten().tolist() == [4] and lag1[1].nonzero().flatten().tolist() == [
        3
    ]
    assert lag2[0].nonzero().flatten().tolist() == [7]
    assert not lag1[2].any() and not lag2[1:].any()  # past the chunk's end is silence


@pytest.mark.parametrize("semitones", [1, 5, -7])
def test_lags_are_the_same_in_every_key(semitones):
    cqt = _cqt(40)
    front_end = ChromaLags((0, 3, 10))
    lengths = torch.tensor([40])
    transposed = torch.roll(cqt, semitones, dims=-1)
    assert torch.allclose(front_end(cqt, lengths), front_end(transposed, lengths), atol=1e-4)


def test_lags_of_a_padded_chunk_match_the_chunk_alone():
    front_end = ChromaLags((0, 5))
    short = _cqt(20, seed=1)
    padded = torch.full((1, 32, N_BINS), 1e3)  # garbage, loud enough to overflow 10**(x/20)
    padded[0, :20] = short[0]
    alone = front_end(short, torch.tensor([20]))
    together = front_end(padded, torch.tensor([20]))
    assert torch.isfinite(together).all()
    assert torch.allclose(alone[0], together[0, :20], atol=1e-5)


def test_pool_frames_averages_real_frames_only():
    x = torch.tensor([[[1.0], [3.0], [5.0], [float("nan")], [9.0]]])
    pooled, lengths = pool_frames(x, torch.tensor([3]), 2)
    assert lengths.tolist() == [2]
    assert pooled[0, :2, 0].tolist() == [2.0, 5.0]
    assert pool_frames(x, torch.tensor([5]), 1)[0] is x


def _model(**overrides) -> CoverHunter:
    settings = dict(d_model=16, n_heads=2, ffn_dim=32, n_blocks=1, kernel_size=5, embedding_dim=8)
    config = CoverHunterConfig(front_end="chroma_lags", **{**settings, **overrides})
    return CoverHunter(config, generator=torch.Generator().manual_seed(0)).eval()


def test_a_chroma_lags_model_embeds_a_transposed_recording_as_the_original():
    model = _model(input_pool=5)
    melody = _notes([0, 4, 7, 5, 2, 11, 0, 7] * 25).repeat_interleave(5, dim=1)  # 1000 frames
    other_melody = _notes([0, 1, 3, 6, 10, 8, 1, 9] * 25).repeat_interleave(5, dim=1)
    lengths = torch.tensor([1000])
    with torch.inference_mode():
        original = model.embed(melody, lengths)
        transposed = model.embed(torch.roll(melody, 4, dims=-1), lengths)
        other = model.embed(other_melody, lengths)
    assert torch.allclose(original, transposed, atol=1e-4)
    assert not torch.allclose(original, other, atol=1e-2)


def test_input_pool_raises_the_shortest_chunk_and_names_it():
    model = _model(input_pool=5)
    assert model.min_frames == 35
    with pytest.raises(ValueError, match="input_pool 5"):
        model(_cqt(30), torch.tensor([30]))


def test_config_round_trips_and_rejects_unknown_front_ends():
    config = CoverHunterConfig(front_end="chroma_lags", chroma_lags=[0, 5], input_pool=2)
    assert CoverHunterConfig(**config.to_dict()) == config and config.feature_dim == 24
    with pytest.raises(ValueError, match="front_end"):
        CoverHunterConfig(front_end="mfcc")
    with pytest.raises(ValueError, match="input_pool"):
        CoverHunterConfig(input_pool=0)
