"""Where `identify` places its printed rows (pipelines/inference/nodes.py): the answers that pass
the calibrated threshold by the second, denser alignment (`rerank.pitch.locate`), the others by
the scoring alignment's own path, which costs nothing more."""

from dataclasses import replace

import numpy as np
import torch
from melodies import melody

from coverhunter.audio.cqt import CQTConfig
from coverhunter.pipelines.inference.nodes import _pitch_segments, _placed_positions
from coverhunter.retrieval.pitch_rerank import (
    PitchSettings,
    pitch_alignment,
    pitch_segment_seconds,
)

CALIBRATION = {"thresholds": {"far_0.01": {"far": 0.01, "threshold": 0.5}}}


def test_the_rows_above_the_threshold_are_placed_or_every_row_without_one():
    shown = np.array([3, 0, 5])
    final = np.array([0.6, 0.1, 0.2, 0.9, 0.3, 0.45])
    np.testing.assert_array_equal(_placed_positions(shown, final, CALIBRATION, 0.01), [3, 0])
    np.testing.assert_array_equal(_placed_positions(shown, final, None, 0.01), shown)
    assert len(_placed_positions(shown, np.zeros(6), CALIBRATION, 0.01)) == 0  # no version


def test_placed_rows_take_the_second_alignment_and_the_others_the_scoring_path():
    query = melody(60, seed=2)
    chromas = [
        torch.cat([melody(15, seed=3), query[20:]]),  # a version after a prelude
        melody(50, seed=4),
        torch.cat([query[:30], melody(20, seed=5)]),  # a version, the second half its own
    ]
    pitch = PitchSettings(
        enabled=True, stack=4, kappa=0.05, locate={"kappa": 0.2, "match_threshold": 0.2}
    )
    cqt = CQTConfig()
    frame_s = pitch.frame_s(cqt.sample_rate, cqt.frame_rate)
    scored = pitch_alignment(query, chromas, pitch)
    placed = np.array([2, 0])
    segments = _pitch_segments(query, chromas, scored, placed, pitch, cqt)

    located = pitch_segment_seconds(
        pitch_alignment(query, [chromas[2], chromas[0]], pitch.locating()), frame_s, pitch
    )
    own = pitch_segment_seconds(scored, frame_s, pitch)
    for key, seconds in segments.items():
        np.testing.assert_allclose(seconds[placed], located[key])
        np.testing.assert_allclose(seconds[1], own[key][1])  # not placed: the scoring path
    # nothing placed, or no second alignment asked for: the scoring path throughout
    for no_second in (
        _pitch_segments(query, chromas, scored, placed[:0], pitch, cqt),
        _pitch_segments(query, chromas, scored, placed, replace(pitch, locate={}), cqt),
    ):
        for key, seconds in no_second.items():
            np.testing.assert_allclose(seconds, own[key])
