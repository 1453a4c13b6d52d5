import numpy as np
import pytest
import torch

from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt
from coverhunter.model.coverhunter import CoverHunter, CoverHunterConfig
from coverhunter.model.front_end import FLOOR_DB, ChromaLags, frame_chroma, pool_frames

N_BINS = 96
BASE_LAGS = (0, 5, 10, 15, 20, 30, 40, 60)  # conf/base's chroma_lags
TRANSPOSITIONS = (3, 5, -7)
# A melody over a chord a bar (semitones above the CQT's lowest bin), and another piece
# (60: 1 kHz, five octaves above the 32 Hz bin; its upper partials leave the CQT when moved up).
MELODY = [60, 64, 67, 65, 64, 62, 60, 59, 57, 60, 64, 62] * 2
CHORDS = [36, 41, 43, 36]
OTHER_MELODY = [60, 61, 63, 66, 70, 68, 61, 69, 58, 66, 63, 71] * 2
OTHER_CHORDS = [36, 38, 41, 43]


def _tone(config: CQTConfig, semitone: int, seconds: float) -> np.ndarray:
    """A plucked harmonic tone `semitone` semitones above `config.fmin` (partials below Nyquist)."""
    f0 = config.fmin * 2 ** (semitone / 12)
    t = np.arange(round(seconds * config.sample_rate)) / config.sample_rate
    partials = [h for h in range(1, 6) if h * f0 < config.sample_rate / 2]
    tone = sum(np.sin(2 * np.pi * h * f0 * t) / h for h in partials)
    return np.minimum(1.0, t / 0.01) * np.exp(-3.0 * t) * tone


def _render(
    config: CQTConfig, melody: list[int], chords: list[int], shift: int, note_s: float = 0.32
) -> np.ndarray:
    """The piece played `shift` semitones up: each melody note over its bar's major triad."""
    notes = []
    for i, note in enumerate(melody):
        root = chords[(i // 4) % len(chords)] + shift
        chord = sum(_tone(config, root + interval, note_s) for interval in (0, 4, 7))
        notes.append(_tone(config, note + shift, note_s) + 0.4 * chord)
    audio = np.concatenate(notes)
    return (audio / np.abs(audio).max()).astype(np.float32)


@pytest.fixture(scope="module")
def rendered() -> dict:
    """(1, T, 96) log-CQTs (conf/base's settings) of the piece, transposed, and another piece."""
    config = CQTConfig()
    extractor = CQTExtractor(config)

    def cqt(audio: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(log_cqt(audio, extractor))[None]

    pieces = {"original": cqt(_render(config, MELODY, CHORDS, 0))}
    pieces |= {s: cqt(_render(config, MELODY, CHORDS, s)) for s in TRANSPOSITIONS}
    pieces["other piece"] = cqt(_render(config, OTHER_MELODY, OTHER_CHORDS, 0))
    return pieces


def _lags(front_end: ChromaLags, cqt: torch.Tensor) -> torch.Tensor:
    return front_end(cqt, torch.tensor([cqt.shape[1]]))


def _mean_abs_db(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean absolute difference of two (1, T, F) dB features over their common frames."""
    frames = min(a.shape[1], b.shape[1])
    return float((a[:, :frames] - b[:, :frames]).abs().mean())


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


def test_chroma_lags_of_a_transposed_recording_match_the_original(rendered):
    """Audio rendered in another key, through the CQT: the log-CQT moves, the lags do not.

    Not a roll of the CQT (which wraps the top octave into the bottom one, so folding into pitch
    classes is invariant whatever the rest does): the transposed audio loses and gains harmonics
    at the ends of the CQT's range and is analysed by other kernels.
    """
    front_end = ChromaLags(BASE_LAGS)
    original = _lags(front_end, rendered["original"])
    other_piece = _mean_abs_db(_lags(front_end, rendered["other piece"]), original)
    for semitones in TRANSPOSITIONS:
        cqt = rendered[semitones]
        assert _mean_abs_db(cqt, rendered["original"]) > 5.0  # the audio really moved
        transposed = _mean_abs_db(_lags(front_end, cqt), original)
        # measured: 0.15-0.17 dB for a transposition, 1.0 dB for the other piece
        assert transposed < 0.3 and transposed < other_piece / 4, (semitones, transposed)


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


def test_a_chroma_lags_model_embeds_a_transposed_recording_as_the_original(rendered):
    model = _model(input_pool=5, chroma_lags=BASE_LAGS)

    def embed(cqt: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model.embed(cqt, torch.tensor([cqt.shape[1]]))[0]

    original = embed(rendered["original"])
    other_piece = 1.0 - float(embed(rendered["other piece"]) @ original)
    for semitones in TRANSPOSITIONS:
        transposed = 1.0 - float(embed(rendered[semitones]) @ original)
        # measured: cosine distance 1e-5 for a transposition, 1e-3 for the other piece
        assert transposed < other_piece / 10, (semitones, transposed, other_piece)


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


def _two_notes(bass_class: int, melody_class: int) -> torch.Tensor:
    """A (1, 10, 96) log-CQT: a loud bass note in octave 0, a softer melody note in octave 4."""
    cqt = torch.full((1, 10, 96), FLOOR_DB)
    cqt[..., bass_class] = 0.0
    cqt[..., 4 * 12 + melody_class] = -6.0
    return cqt


def test_chroma_octaves_leave_the_bass_out_of_the_chroma():
    cqt = _two_notes(bass_class=3, melody_class=7)
    assert frame_chroma(cqt)[0, 0].argmax() == 3  # the bass dominates the whole fold
    upper = frame_chroma(cqt, octaves=(2, 7))[0, 0]
    assert upper.argmax() == 7 and upper[3] < 1e-3
    # so the lags of a version with another bass under the same melody do not move
    lags = ChromaLags((0, 5), octaves=(2, 7))
    lengths = torch.tensor([10])
    other_bass = lags(_two_notes(bass_class=10, melody_class=7), lengths)
    assert torch.allclose(lags(cqt, lengths), other_bass)
    assert not torch.allclose(
        ChromaLags((0, 5))(cqt, lengths),
        ChromaLags((0, 5))(_two_notes(bass_class=10, melody_class=7), lengths),
    )


def test_chroma_octaves_round_trip_and_a_range_outside_the_cqt_is_refused():
    config = CoverHunterConfig(front_end="chroma_lags", chroma_octaves=[2, 7])
    again = CoverHunterConfig(**config.to_dict())
    assert again.chroma_octaves == (2, 7) and again == config
    assert CoverHunter(again).front_end.octaves == (2, 7)
    with pytest.raises(ValueError, match=r"chroma_octaves \[2, 9\] .* 8 octaves of 96"):
        CoverHunterConfig(front_end="chroma_lags", chroma_octaves=(2, 9))
