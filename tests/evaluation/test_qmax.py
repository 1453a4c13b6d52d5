"""The Essentia Qmax baseline: HPCP chroma, then cover-song distances between tracks."""

from __future__ import annotations

import numpy as np
import pytest

from coverhunter.evaluation.qmax import (
    QmaxSettings,
    hpcp_features,
    qmax_distance,
    qmax_distance_matrix,
)

SR = 16000


def _tone(freq: float, seconds: float) -> np.ndarray:
    """A harmonic tone (four partials, falling 1/k) with a short fade in and out."""
    t = np.arange(round(seconds * SR)) / SR
    tone = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, 5))
    ramp = min(len(t) // 4, 160)
    envelope = np.ones(len(t))
    envelope[:ramp], envelope[len(t) - ramp :] = np.linspace(0, 1, ramp), np.linspace(1, 0, ramp)
    return (0.2 * tone * envelope).astype(np.float32)


def _melody(midi: np.ndarray, note_s: float, transpose: int = 0) -> np.ndarray:
    return np.concatenate([_tone(440.0 * 2 ** ((m + transpose - 69) / 12), note_s) for m in midi])


TUNE = np.array([60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 71, 67, 69, 65, 64, 62, 60, 55])
OTHER = np.random.default_rng(5).integers(55, 75, len(TUNE))  # an unrelated melody


def test_hpcp_bin_0_is_a_and_each_semitone_moves_one_bin():
    a4 = hpcp_features(_tone(440.0, 2.0), SR)
    c5 = hpcp_features(_tone(440.0 * 2 ** (3 / 12), 2.0), SR)
    # 32000 samples: frames start every 2048 from 0, the last one padded: 1 + ceil(27904 / 2048)
    assert a4.shape == (15, 12) and a4.dtype == np.float32
    assert np.argmax(a4.mean(0)) == 0 and np.argmax(c5.mean(0)) == 3
    assert np.allclose(a4.max(1), 1.0)  # unit maximum per frame


def test_a_transposed_slower_copy_is_closer_than_an_unrelated_melody():
    original = hpcp_features(_melody(TUNE, 0.5), SR)
    cover = hpcp_features(_melody(TUNE, 0.6, transpose=3), SR)  # 3 semitones up, 20 % slower
    unrelated = hpcp_features(_melody(OTHER, 0.5), SR)
    to_cover, to_unrelated = qmax_distance(original, cover), qmax_distance(original, unrelated)
    assert 0 <= to_cover < to_unrelated


def test_matrix_has_one_row_per_scored_query_and_a_time_per_pair():
    tracks = [hpcp_features(_melody(m, 0.5, t), SR) for m, t in ((TUNE, 0), (TUNE, 2), (OTHER, 0))]
    distances, seconds = qmax_distance_matrix(tracks, tracks, max_queries=2)
    assert distances.shape == (2, 3) and seconds > 0
    assert distances[0, 1] < distances[0, 2] and distances[1, 0] < distances[1, 2]
    assert distances[0, 1] == qmax_distance(tracks[0], tracks[1])  # the same pipeline
    all_rows, _ = qmax_distance_matrix(tracks, tracks)
    assert all_rows.shape == (3, 3)


def test_too_short_tracks_and_bad_arguments_are_named():
    track = np.random.default_rng(0).random((20, 12)).astype(np.float32)
    with pytest.raises(ValueError, match="reference has 5 HPCP frames; a frame stack needs 9"):
        qmax_distance(track, track[:5])
    with pytest.raises(ValueError, match="max_queries=0"):
        qmax_distance_matrix([track], [track], max_queries=0)
    with pytest.raises(ValueError, match="shorter than frame_size=4096"):
        hpcp_features(np.zeros(1000, dtype=np.float32), SR)
    assert QmaxSettings(frame_stack_size=3, frame_stack_stride=2).min_frames == 5
