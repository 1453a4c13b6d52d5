"""The Essentia Qmax baseline: HPCP chroma, then cover-song distances between tracks."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from coverhunter.evaluation.qmax import (
    QmaxSettings,
    essentia_available,
    hpcp_features,
    metrics_on_queries,
    qmax_distance,
    qmax_distance_matrix,
    score_qmax,
    stratified_queries,
)
from coverhunter.pipelines.evaluation.nodes import choose_qmax_queries

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


def test_skipped_pairs_are_infinite_and_not_scored():
    tracks = [hpcp_features(_melody(m, 0.5), SR) for m in (TUNE, OTHER)]
    skip = np.array([[True, False], [False, True]])
    distances, seconds = qmax_distance_matrix(tracks, tracks, skip=skip)
    assert np.isinf(distances[0, 0]) and np.isinf(distances[1, 1]) and seconds > 0
    assert distances[0, 1] == qmax_distance(tracks[0], tracks[1])
    with pytest.raises(ValueError, match=r"skip has shape \(1, 2\)"):
        qmax_distance_matrix(tracks, tracks, skip=skip[:1])


# Works A (3 versions), B (2), C (1: nothing to find, never a query), D (4), interleaved.
PERFS = ["a1", "d1", "b1", "c1", "a2", "d2", "d3", "b2", "a3", "d4"]
WORKS = [p[0] for p in PERFS]


def _per_work(chosen):
    return {work: sum(p[0] == work for p in chosen) for work in "abcd"}


def test_query_choice_is_stratified_by_work():
    # Rounds: one performance of every work with versions (3), then again (6), then A and D.
    assert _per_work(stratified_queries(PERFS, WORKS, 3, seed=0)) == {
        "a": 1,
        "b": 1,
        "c": 0,
        "d": 1,
    }
    assert sorted(_per_work(stratified_queries(PERFS, WORKS, 5, seed=0)).values()) == [0, 1, 2, 2]
    seven = _per_work(stratified_queries(PERFS, WORKS, 7, seed=0))
    assert seven["b"] == 2 and seven["c"] == 0 and sorted([seven["a"], seven["d"]]) == [2, 3]
    everyone = [p for p in PERFS if p != "c1"]
    assert stratified_queries(PERFS, WORKS, None, seed=0) == everyone
    assert stratified_queries(PERFS, WORKS, 100, seed=0) == everyone
    assert stratified_queries(PERFS, WORKS, 0, seed=0) == []


def test_query_choice_is_seeded_and_independent_of_the_input_order():
    chosen = stratified_queries(PERFS, WORKS, 4, seed=7)
    assert chosen == stratified_queries(PERFS, WORKS, 4, seed=7)
    assert chosen == [p for p in PERFS if p in chosen]  # in the input's order
    order = np.random.default_rng(1).permutation(len(PERFS))
    shuffled = stratified_queries([PERFS[i] for i in order], [WORKS[i] for i in order], 4, seed=7)
    assert sorted(shuffled) == sorted(chosen)
    assert len({tuple(stratified_queries(PERFS, WORKS, 4, seed=s)) for s in range(8)}) > 1
    with pytest.raises(ValueError, match="max_queries=-1"):
        stratified_queries(PERFS, WORKS, -1, seed=0)
    with pytest.raises(ValueError, match="not unique"):
        stratified_queries(["a1", "a1"], ["a", "a"], 1, seed=0)


def test_metrics_on_chosen_queries_are_those_rows_against_everyone():
    perfs, works = ["p0", "p1", "p2", "p3"], ["x", "x", "y", "y"]
    distances = np.array(
        [
            [0.0, 0.5, 0.1, 0.9],  # p0: its version p1 second -> AP 1/2, rank 2
            [0.5, 0.0, 0.6, 0.7],  # p1: p0 first
            [0.1, 0.6, 0.0, 0.2],  # p2: p0 (0.1) before its version p3 (0.2) -> AP 1/2
            [0.9, 0.7, 0.2, 0.0],  # p3: p2 first
        ]
    )
    one = metrics_on_queries(distances, works, perfs, ["p0"])
    assert one == {"mAP": 0.5, "MR1": 2.0, "hit_rate": 0.0, "P@10": 0.1, "n_queries": 1}
    two = metrics_on_queries(distances, works, perfs, ["p0", "p1"])
    assert two["mAP"] == 0.75 and two["MR1"] == 1.5 and two["n_queries"] == 2
    with pytest.raises(ValueError, match="queries not among the performances"):
        metrics_on_queries(distances, works, perfs, ["p9"])


def test_qmax_row_scores_each_query_against_every_other_performance():
    melodies = {"t0": (TUNE, 0), "t1": (TUNE, 2), "o0": (OTHER, 0), "o1": (OTHER, -3)}
    hpcps = {p: hpcp_features(_melody(m, 0.5, shift), SR) for p, (m, shift) in melodies.items()}
    perfs, works = list(melodies), ["t", "t", "o", "o"]
    row = score_qmax(hpcps, perfs, works, ["t0"])
    # t0's version t1 is nearer than both unrelated tracks (see the transposed copy above).
    assert row["n_queries"] == 1 and row["n_pairs"] == 3
    assert row["mAP"] == 1.0 and row["MR1"] == 1.0 and row["hit_rate"] == 1.0
    assert row["seconds_per_pair"] > 0
    assert row["seconds_pairs"] == pytest.approx(3 * row["seconds_per_pair"])
    with pytest.raises(ValueError, match="no HPCP for 1 performances"):
        score_qmax({p: hpcps[p] for p in perfs[:3]}, perfs, works, ["t0"])


def test_importing_the_evaluation_pipeline_does_not_import_essentia():
    """Essentia is imported where Qmax runs: a machine without it (no wheel for macOS on Apple
    silicon) still imports and runs the rest of the evaluation. A fresh interpreter: this one
    may have imported Essentia for the tests above."""
    code = (
        "import json, sys\n"
        "import coverhunter.evaluation.qmax, coverhunter.pipelines.evaluation.pipeline\n"
        "import coverhunter.pipeline_registry\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "coverhunter" in loaded and "essentia" not in loaded


def test_without_essentia_qmax_says_how_to_install_it_and_the_evaluation_skips_its_row(
    monkeypatch, caplog
):
    monkeypatch.setitem(sys.modules, "essentia", None)  # what `import essentia` meets without it
    assert not essentia_available()
    with pytest.raises(ImportError, match=r"pip install -e '\.\[qmax\]'"):
        hpcp_features(_tone(440.0, 1.0), SR)
    gallery = pd.DataFrame({"perf_id": ["a1", "a2", "b1", "b2"], "work_id": ["a", "a", "b", "b"]})
    with caplog.at_level(logging.WARNING):
        queries = choose_qmax_queries(gallery, {"qmax": {"max_queries": 2}}, seed=0)
    assert queries == []
    assert "qmax baseline skipped" in caplog.text and "max_queries: 0" in caplog.text
