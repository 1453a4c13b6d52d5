"""The re-rank's pitch stage (retrieval/pitch_rerank.py): chroma sequences aligned with the
shortlist, on sequences built here whose answer is known: a copy, a transposed copy, a version
with a prelude of its own, unrelated music."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from melodies import melody

from coverhunter.retrieval.pitch_rerank import (
    PitchSettings,
    chroma_sequence,
    chroma_table,
    chromas_from_table,
    pitch_alignment,
    pitch_alignment_scores,
    pitch_segment_seconds,
    stacked_states,
    transposition_indices,
    with_pitch_scores,
)
from coverhunter.retrieval.rerank import Reranked

SETTINGS = PitchSettings(enabled=True, stack=4, kappa=0.1, match_threshold=0.33)


def test_the_transposition_index_rolls_a_candidate_back_to_the_query_key():
    query = melody(40, seed=0)
    (shift,) = transposition_indices(query, [torch.roll(query, 5, dims=1)]).tolist()
    back = torch.roll(torch.roll(query, 5, dims=1), shift, dims=1)
    torch.testing.assert_close(back, query)


def test_stacked_states_are_unit_rows_of_stack_frames():
    states = stacked_states(melody(10, seed=1), 4)
    assert states.shape == (7, 48)
    torch.testing.assert_close(states.norm(dim=1), torch.ones(7))
    assert stacked_states(melody(2, seed=1), 4).shape == (1, 48)  # shorter than a state


def test_a_version_outscores_unrelated_music_and_a_copy_scores_in_full():
    query = melody(60, seed=2)
    transposed_copy = torch.roll(query, 3, dims=1)
    # the query's last 40 steps after a prelude of its own, louder
    version = torch.cat([melody(15, seed=3), 2.0 * query[20:]])
    unrelated = [melody(60, seed=s) for s in (4, 5, 6)]
    scores = pitch_alignment_scores(query, [transposed_copy, version, *unrelated], SETTINGS)
    assert scores.shape == (5,)
    assert scores[0] == pytest.approx(1.0)  # every state of the query matched
    # the shared 40 steps (37 states of 57) and more than that share (a path may run on through
    # chance matches), less than a copy, far above unrelated music (whose chance neighbours in
    # the binarised similarities still make paths of about 0.3)
    assert 37 / 57 < scores[1] < scores[0]
    assert scores[2:].max() < scores[1] - 0.3


def test_the_pitch_path_says_where_a_version_matches():
    query = melody(60, seed=2)
    # the query's steps 20-59 after a prelude of 15 steps of its own
    version = torch.cat([melody(15, seed=3), query[20:]])
    found = pitch_alignment(query, [version], SETTINGS)
    # the path never starts after the shared music does; it may start before, running back
    # through the two recordings' unshared music, whose states are each other's nearest
    # neighbours for want of better ones (the binarised matrix keeps every row's closest)
    assert int(found.query_first[0]) <= 20 and int(found.ref_first[0]) <= 15
    # and runs to the end of the shared music: the last state of each
    assert int(found.query_last[0]) == 60 - SETTINGS.stack
    assert int(found.ref_last[0]) == 55 - SETTINGS.stack
    seconds = pitch_segment_seconds(found, 0.5, SETTINGS)
    assert seconds["query_start_s"][0] == pytest.approx(0.5 * int(found.query_first[0]))
    assert seconds["query_end_s"][0] == pytest.approx(30.0)  # the state's last frame's end
    assert seconds["match_end_s"][0] == pytest.approx(27.5)


def test_a_second_alignment_places_pairs_where_locate_asks_for_one():
    assert SETTINGS.locating() is None  # no locate: the scoring path places pairs
    same = PitchSettings(kappa=0.1, locate={"kappa": 0.1})
    assert same.locating() is None  # nothing changed: no second alignment
    denser = PitchSettings(kappa=0.05, locate={"kappa": 0.15, "match_threshold": 0.25})
    assert denser.locating() == PitchSettings(kappa=0.15, match_threshold=0.25)
    with pytest.raises(ValueError, match="locate takes kappa and match_threshold"):
        PitchSettings(locate={"stack": 4})

    query = melody(60, seed=2)
    chromas = [query, torch.cat([melody(15, seed=3), query[20:]]), melody(50, seed=4)]
    settings = PitchSettings(
        enabled=True, stack=4, kappa=0.05, locate={"kappa": 0.2, "match_threshold": 0.2}
    )
    ranked = Reranked(
        torch.zeros(3, 3), torch.tensor([[1, 2], [0, 2], [0, 1]]), torch.zeros(3, 2), {}
    )
    placed = with_pitch_scores(ranked, chromas, chromas, settings, frame_s=0.5)
    scored = pitch_alignment(query, chromas[1:], settings)
    located = pitch_alignment(query, chromas[1:], settings.locating())
    # the score is the scoring alignment's; the place the locating one's
    torch.testing.assert_close(placed.pitch_score[0], scored.score)
    np.testing.assert_allclose(
        placed.pitch_segments["query_start_s"][0], located.query_first.numpy() * 0.5
    )
    # without frame_s, scores only
    assert with_pitch_scores(ranked, chromas, chromas, settings).pitch_segments is None


def test_frame_s_is_the_chroma_source_hop_times_the_frames_averaged():
    hpcp = PitchSettings(source="hpcp", chroma={"hop_size": 2048}, average_frames=2)
    assert hpcp.frame_s(16000, 25.0) == pytest.approx(0.256)
    assert PitchSettings(source="cqt", average_frames=6).frame_s(16000, 25.0) == 0.24


def test_with_pitch_scores_and_the_fused_distances():
    chromas = [melody(30, seed=10), None, None]
    chromas[1] = torch.roll(chromas[0], 2, dims=1)  # a version of query 0
    chromas[2] = melody(30, seed=11)
    # the first stage puts the unrelated recording first for query 0
    dist = torch.tensor([[0.0, 0.6, 0.2], [0.6, 0.0, 0.3], [0.2, 0.3, 0.0]])
    shortlist = torch.tensor([[2, 1], [2, 0], [0, 1]])
    ranked = Reranked(dist, shortlist, torch.zeros(3, 2), {})
    with_pitch = with_pitch_scores(ranked, chromas, chromas, SETTINGS, frame_s=0.5)
    assert with_pitch.pitch_score.shape == (3, 2)
    assert with_pitch.pitch_segments["match_start_s"].shape == (3, 2)
    assert with_pitch.pitch_score[0, 1] > with_pitch.pitch_score[0, 0]
    # pitch weight 0: the first-stage order; 1: the pitch stage's (the query itself, outside
    # the shortlist, last)
    assert with_pitch.distances(0.0, 0.0)[0].argsort().tolist() == [2, 1, 0]
    assert with_pitch.distances(0.0, 1.0)[0].argsort().tolist() == [1, 2, 0]
    # without the stage the pitch weight changes nothing
    torch.testing.assert_close(ranked.distances(0.5, 1.0), ranked.distances(0.5, 0.0))


def test_chroma_sequence_and_the_stored_table():
    log_cqt = np.full((25, 96), -80.0, dtype=np.float32)
    log_cqt[:, 24 + 9] = 0.0  # pitch class 9, octave 2
    settings = PitchSettings(chroma={"octaves": [2, 7]}, average_frames=6)
    chroma = chroma_sequence(log_cqt, settings)
    assert chroma.shape == (4, 12) and int(chroma[0].argmax()) == 9
    table = chroma_table(["a", "b"], ["w", "w"], [chroma, chroma[:2]])
    back = chromas_from_table(table, ["b", "a"])
    torch.testing.assert_close(back[1], chroma)
    assert back[0].shape == (2, 12)
    with pytest.raises(ValueError, match="no chroma sequence"):
        chromas_from_table(table, ["c"])


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="weight"):
        PitchSettings(weight=1.5)
    with pytest.raises(ValueError, match="kappa"):
        PitchSettings(kappa=2.0)
    with pytest.raises(TypeError):
        PitchSettings.of({"stacks": 3})
    assert not PitchSettings.of(None).enabled


def test_a_prescreen_aligns_in_full_only_the_candidates_it_keeps():
    query = melody(80, seed=2)
    versions = [torch.roll(query, 3, dims=1), torch.cat([melody(15, seed=3), query[20:]])]
    candidates = [melody(80, seed=s) for s in (4, 5)] + versions + [melody(60, seed=6)]
    full = PitchSettings(enabled=True, stack=4, kappa=0.1)
    screened = replace(full, prescreen={"keep": 2, "factor": 2, "stack": 2, "kappa": 0.1})
    everyone = pitch_alignment(query, candidates, full)
    found = pitch_alignment(query, candidates, screened)
    # the two versions survive the coarse alignment and are aligned in full, path and all
    for name in ("score", "query_first", "query_last", "ref_first", "ref_last"):
        torch.testing.assert_close(getattr(found, name)[2:4], getattr(everyone, name)[2:4])
    # the unrelated three rank below them, in the coarse alignment's order
    assert found.score[[0, 1, 4]].max() < found.score[2:4].min()

    def halved(chroma):  # each two frames' mean, an odd last frame left out
        return chroma[: len(chroma) // 2 * 2].reshape(-1, 2, 12).mean(1)

    coarse = pitch_alignment(
        halved(query), [halved(c) for c in candidates], replace(full, stack=2, kappa=0.1)
    ).score
    assert torch.equal(torch.argsort(found.score[[0, 1, 4]]), torch.argsort(coarse[[0, 1, 4]]))
    # no more candidates than it keeps: every one in full; a locating pass never screens
    torch.testing.assert_close(
        pitch_alignment(query, versions, screened).score, everyone.score[2:4]
    )
    assert replace(screened, locate={"kappa": 0.2}).locating().prescreen == {}
    with pytest.raises(ValueError, match="prescreen takes keep, factor, stack and kappa"):
        PitchSettings(prescreen={"keep": 5, "average_frames": 4})
    with pytest.raises(ValueError, match="keep >= 1"):
        PitchSettings(prescreen={"factor": 2})
