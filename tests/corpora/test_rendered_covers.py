"""Versions of a rendered-corpus work differ as covers do: same melody, other harmony and texture.

Everything here is checked on the notes (quarter notes, MIDI pitches) a version plays, before
FluidSynth: no soundfont needed.
"""

from __future__ import annotations

import numpy as np
import pytest

from coverhunter.corpora.rendered_corpus.arrangement import Band, arrange
from coverhunter.corpora.rendered_corpus.config import RenderedCorpusConfig
from coverhunter.corpora.rendered_corpus.corpus_pieces import Candidate, Piece
from coverhunter.corpora.rendered_corpus.cover import (
    MELODY_CHANGES,
    CoverSettings,
    displace,
    draw_cover,
    ornament,
    pass_between,
    restructure,
    sections,
    vary_melody,
)
from coverhunter.corpora.rendered_corpus.harmony import Chord, harmonise, reharmonise
from coverhunter.corpora.rendered_corpus.texture import TEXTURES, accompany, bass_pitch
from coverhunter.corpora.rendered_corpus.versions import cover_voices, plan_version
from coverhunter.corpora.rendered_corpus.works import plan_work

CONFIG = RenderedCorpusConfig()
SEED = 5
N_VERSIONS = 24
ACCOMPANIMENT = ("bass", "chords", "inner")
C_MAJOR = frozenset({0, 2, 4, 5, 7, 9, 11})


def _versions(work) -> list:
    """(plan, voices of one pass) of the work's first N_VERSIONS versions, as rendering draws them."""
    out = []
    for version_idx in range(N_VERSIONS):
        rng = np.random.default_rng([SEED, work.work_idx, version_idx])
        plan = plan_version(work, version_idx, CONFIG, rng)
        out.append((plan, cover_voices(plan.cover, plan.band, plan.key_shift, CONFIG, rng)))
    return out


@pytest.fixture(scope="module")
def tune():
    """A reel with chord symbols (A minor), and its versions."""
    work = plan_work(Candidate("nottingham-dataset/reelsa-c.abc", 81), 0, CONFIG, SEED)
    return work, _versions(work)


@pytest.fixture(scope="module")
def folk_song():
    """An Essen folk song: a bare melody, its chords fitted."""
    work = plan_work(Candidate("essenFolksong/altdeu10.abc", 5), 1, CONFIG, SEED)
    return work, _versions(work)


@pytest.fixture(scope="module")
def mass():
    """A Palestrina Agnus Dei in five written voices."""
    work = plan_work(Candidate("palestrina/Agnus_01.krn"), 2, CONFIG, SEED)
    return work, _versions(work)


def _role(voices, *roles) -> np.ndarray:
    notes = [v.notes for v in voices if v.role in roles]
    return np.concatenate(notes) if notes else np.zeros((0, 3))


def _in_work_time(notes: np.ndarray, spans) -> np.ndarray:
    """Work notes `(N, 3)` placed where a version that plays `spans` of the work plays them."""
    out, position = [], 0.0
    for start, end in spans:
        inside = notes[(notes[:, 0] >= start) & (notes[:, 0] < end)]
        for onset, length, pitch in inside:
            out.append((onset - start + position, min(onset + length, end) - onset, pitch))
        position += end - start
    return np.array(out).reshape(-1, 3)


def _kept(work_melody: np.ndarray, plan, version_melody: np.ndarray) -> float:
    """Share of the work's melody notes whose pitch class the version's melody sounds while
    the note is due (half a quarter either side): the key change undone, octaves ignored."""
    due = _in_work_time(work_melody, plan.cover.spans)
    heard = version_melody.copy()
    heard[:, 2] -= plan.key_shift
    kept = []
    for onset, length, pitch in due:
        near = (heard[:, 0] < onset + length + 0.5) & (heard[:, 0] + heard[:, 1] > onset - 0.5)
        kept.append(np.any(heard[near, 2] % 12 == pitch % 12))
    return float(np.mean(kept))


def _chord_at(chords, t: float) -> frozenset[int] | None:
    for chord in chords:
        if chord.onset - 1e-9 <= t < chord.onset + chord.duration - 1e-9:
            return frozenset(chord.pcs)
    return None


def _beats(length_q: float) -> np.ndarray:
    return np.arange(0.0, length_q, 1.0) + 0.01


def _work_chords_in_version_time(work, plan) -> list:
    """The work's own chords moved to where the version plays their stretch of the work."""
    out, position = [], 0.0
    for start, end in plan.cover.spans:
        for chord in work.piece.chords:
            onset, stop = max(chord.onset, start), min(chord.onset + chord.duration, end)
            if stop > onset:
                out.append(chord._replace(onset=onset - start + position, duration=stop - onset))
        position += end - start
    return out


def _heard_share(accompaniment: np.ndarray, chords, key_shift: int) -> float:
    """Share of accompaniment notes whose pitch class is in the chord sounding at their onset."""
    hits = []
    for onset, _, pitch in accompaniment:
        pcs = _chord_at(chords, onset)
        hits.append(pcs is not None and (pitch - key_shift) % 12 in pcs)
    return float(np.mean(hits))


# --- what stays: the melody -----------------------------------------------------------------


def test_every_version_keeps_the_melody_of_the_work(tune, folk_song, mass):
    for work, versions in (tune, folk_song, mass):
        for plan, voices in versions:
            assert _kept(work.piece.parts[0], plan, _role(voices, "melody")) >= 0.9, (
                work.work_id,
                plan.cover.columns(),
            )
    # The measure tells melodies apart: the folk song's is not heard in the reel's versions.
    for plan, voices in tune[1][:6]:
        assert _kept(folk_song[0].piece.parts[0], plan, _role(voices, "melody")) < 0.7


def test_the_melody_is_read_differently_by_some_versions(tune, folk_song):
    for work, versions in (tune, folk_song):
        changed = [plan for plan, _ in versions if plan.cover.melody]
        assert changed, work.work_id
        for plan, voices in versions:
            melody = _role(voices, "melody")
            if plan.cover.melody or plan.cover.structure != "none":
                continue
            written = work.piece.parts[0]
            assert np.array_equal(melody[:, :2], written[:, :2])  # untouched: as written
            assert np.array_equal(melody[:, 2] - plan.key_shift, written[:, 2])
        for plan, voices in versions:
            if "ornaments" in plan.cover.melody and plan.cover.structure == "none":
                assert len(_role(voices, "melody")) > len(work.piece.parts[0])


# --- what changes: harmony and accompaniment ------------------------------------------------


def test_redrawn_harmony_puts_other_chords_under_the_same_melody(tune):
    work, versions = tune
    redrawn, kept = [], []
    for plan, voices in versions:
        cover = plan.cover
        if cover.texture == "melody_only":
            assert cover.harmony == ()
            continue
        own = _work_chords_in_version_time(work, plan)
        beats = _beats(cover.score.length_q)
        differs = np.mean([_chord_at(cover.score.chords, t) != _chord_at(own, t) for t in beats])
        accompaniment = _role(voices, *ACCOMPANIMENT)
        if cover.harmony:
            # The accompaniment follows the new chords, less the work's.
            new = _heard_share(accompaniment, cover.score.chords, plan.key_shift)
            old = _heard_share(accompaniment, own, plan.key_shift)
            assert new >= 0.75, cover.columns()
            redrawn.append((plan, differs, new, old))
        else:
            kept.append(plan)
            assert differs == 0  # the work's own chord symbols
    assert len(redrawn) >= 8 and kept
    assert all(differs >= 0.1 for _, differs, _, _ in redrawn)
    heard_new, heard_old = np.mean([r[2:] for r in redrawn], axis=0)
    assert heard_new - heard_old >= 0.15
    # Two re-drawn versions rarely agree on the chords.
    progressions = [
        tuple(_chord_at(p.cover.score.chords, t) for t in _beats(p.cover.score.length_q))
        for p, *_ in redrawn
    ]
    pairs = [(a, b) for i, a in enumerate(progressions) for b in progressions[i + 1 :]]
    assert np.mean([a != b for a, b in pairs]) >= 0.9


def test_a_piece_of_several_parts_keeps_its_voices_or_takes_new_ones(mass):
    work, versions = mass
    written = {tuple(map(tuple, part)) for part in work.piece.parts[1:]}
    textures = {plan.cover.texture for plan, _ in versions}
    assert "parts" in textures and len(textures - {"parts", "melody_only"}) >= 4
    # The rendering of before, every part as written, is still one of the draws.
    assert any(p.cover.texture == "parts" and p.cover.arrangement == "full" for p, _ in versions)
    for plan, voices in versions:
        cover = plan.cover
        lower = [v for v in voices if v.role in ACCOMPANIMENT]
        if cover.texture == "parts":
            assert cover.harmony == () and len(cover.score.parts) == len(work.piece.parts)
            if cover.arrangement == "full" and cover.structure == "none":
                # the written voices, moved by the key (and maybe an octave)
                for voice in lower:
                    notes = voice.notes.copy()
                    notes[:, 2] = notes[:, 2] - plan.key_shift
                    assert any(
                        np.array_equal(notes[:, :2], np.array(w)[:, :2])
                        and np.all((notes[:, 2] - np.array(w)[:, 2]) % 12 == 0)
                        for w in written
                    )
        elif cover.texture != "melody_only":
            assert cover.harmony[0] == "fitted" and len(cover.score.parts) == 1
            accompaniment = _role(voices, *ACCOMPANIMENT)
            assert _heard_share(accompaniment, cover.score.chords, plan.key_shift) >= 0.8
            for voice in lower:  # none of the written voices' rhythms
                assert not any(np.array_equal(voice.notes[:, :2], np.array(w)[:, :2]) for w in written)  # fmt: skip


def test_the_drawn_texture_is_what_the_version_plays(tune, folk_song):
    seen = set()
    for work, versions in (tune, folk_song):
        for plan, voices in versions:
            texture = plan.cover.texture
            seen.add(texture)
            chords, bass = _role(voices, "chords"), _role(voices, "bass")
            if texture == "melody_only":
                assert {v.role for v in voices} <= {"melody", "double", "drums"}
                assert not len(bass) and not len(chords)
            elif texture == "block":
                _, counts = np.unique(chords[:, 0], return_counts=True)
                assert counts.min() >= 3  # every chord struck at once
            elif texture in ("arpeggio", "arpeggio_updown", "alberti"):
                assert len(np.unique(chords[:, 0])) == len(chords)  # one note at a time
            elif texture == "walking_bass":
                steps = np.diff(np.sort(bass[:, 0]))
                assert np.allclose(steps[steps > 1e-9], work.piece.beat_q)  # a note a beat
            elif texture == "pedal":
                assert len(np.unique(bass[:, 2] % 12)) == 1
    assert len(seen) >= 8


# --- the textures, one by one ---------------------------------------------------------------


def _progression():
    """C F G C, a bar each in 4/4, under a melody of quarter notes."""
    chords = (
        Chord(0.0, 4.0, 0, (0, 4, 7)),
        Chord(4.0, 4.0, 5, (0, 5, 9)),
        Chord(8.0, 4.0, 7, (2, 7, 11)),
        Chord(12.0, 4.0, 0, (0, 4, 7)),
    )
    pitches = [72, 76, 79, 76, 77, 81, 77, 72, 74, 79, 83, 79, 76, 72, 67, 72]
    melody = np.array([(i, 1.0, p) for i, p in enumerate(pitches)], dtype=float)
    return chords, melody


def _texture(texture, beats_per_bar=4, beat_q=1.0, tonic=0) -> dict:
    chords, melody = _progression()
    bars = np.arange(0.0, 16.0, beats_per_bar * beat_q)
    parts = accompany(chords, texture, melody, bars, 16.0, beat_q, beats_per_bar, tonic, centre=60)
    return {role: notes for notes, role in parts}


def test_each_texture_plays_its_own_pattern():
    assert _texture("melody_only") == {}
    assert set(_texture("bass_only")) == {"bass"}
    roots = [bass_pitch(pc) for pc in (0, 5, 7, 0)]
    assert _texture("bass_only")["bass"][:, 2].tolist() == roots

    block = _texture("block")["chords"]
    onsets, counts = np.unique(block[:, 0], return_counts=True)
    assert onsets.tolist() == [0, 4, 8, 12] and counts.tolist() == [3, 3, 3, 3]

    for name, first_chord in (
        ("arpeggio", [55, 60, 64, 55, 60, 64, 55, 60]),
        ("arpeggio_updown", [55, 60, 64, 67, 64, 60, 55, 60]),
        ("alberti", [55, 64, 60, 64, 55, 64, 60, 64]),
    ):
        broken = _texture(name)["chords"]
        assert np.allclose(np.diff(broken[:, 0]), 0.5)  # eighths, one note at a time
        assert broken[:8, 2].tolist() == first_chord, name

    strum = _texture("strum")
    strokes = strum["chords"][strum["chords"][:, 0] < 4.0]
    starts = sorted({round(t * 2) / 2 for t in strokes[:, 0]})
    assert starts == [0.0, 1.0, 1.5, 2.0, 3.0, 3.5]  # down on the beats, up after 2 and 4
    first = strokes[strokes[:, 0] < 0.5]
    assert np.allclose(np.diff(first[:, 0]), 0.03) and first[:, 2].tolist() == [55, 60, 64]
    up = strokes[(strokes[:, 0] >= 1.5) & (strokes[:, 0] < 2.0)]
    assert up[:, 2].tolist() == [64, 60, 55]  # an up-stroke, top note first
    assert strum["bass"][:2, [0, 2]].tolist() == [[0, 36], [2, 43]]  # root, then fifth

    comping = _texture("comping")
    assert comping["bass"][:2, [0, 2]].tolist() == [[0, 36], [2, 43]]
    stabs = comping["chords"][comping["chords"][:, 0] < 4.0]
    assert sorted(set(stabs[:, 0])) == [1.0, 3.0] and np.all(stabs[:, 1] == 0.5)
    waltz = _texture("comping", beats_per_bar=3)  # oom-pah-pah
    assert sorted(set(waltz["bass"][:, 0]) & {0, 1, 2}) == [0]
    assert sorted(set(waltz["chords"][:, 0]) & {0, 1, 2}) == [1, 2]

    walking = _texture("walking_bass")["bass"]
    assert walking[:, 0].tolist() == list(range(16))  # a note every beat
    assert walking[:4, 2].tolist() == [36, 40, 43, 42]  # C E G, then F# a semitone over F (41)

    pedal = _texture("pedal", tonic=7)["bass"]
    assert set(pedal[:, 2]) == {bass_pitch(7)} and pedal[:, 0].tolist() == [0, 4, 8, 12]

    counter = _texture("counter_melody")["inner"]
    assert np.all(counter[:-1, 0] + counter[:-1, 1] <= counter[1:, 0] + 1e-9)  # one at a time
    chords, _ = _progression()
    assert all((p % 12) in _chord_at(chords, t) for t, _, p in counter)
    assert len(set(counter[:, 2])) >= 3  # a line, not a drone

    compound = _texture("arpeggio", beats_per_bar=2, beat_q=1.5)["chords"]
    assert np.allclose(np.diff(compound[:, 0]), 0.5)  # triplet eighths of a dotted beat
    assert set(TEXTURES) == {
        "melody_only", "bass_only", "block", "arpeggio", "arpeggio_updown", "alberti", "strum",
        "comping", "walking_bass", "pedal", "counter_melody",
    }  # fmt: skip


# --- the harmony changes, one by one --------------------------------------------------------


def _harmony(changes, seed=0):
    chords, melody = _progression()
    bars = np.arange(0.0, 16.0, 4.0)
    rng = np.random.default_rng(seed)
    return reharmonise(melody, bars, 16.0, 1.0, 0, "major", chords, changes, rng)


def test_each_harmony_change_alters_the_chords_as_named():
    own, melody = _progression()
    rng = np.random.default_rng(0)
    assert _harmony(()) == (own, ())
    roots = lambda chords: [c.root for c in chords]  # noqa: E731

    chords, applied = _harmony(("ii_for_iv",))
    assert applied == ("ii_for_iv",) and roots(chords) == [0, 2, 7, 0]  # F -> Dm
    assert chords[1].pcs == (2, 5, 9)

    chords, applied = _harmony(("relative",), seed=1)
    assert applied == ("relative",)
    relatives = {0: 9, 5: 2, 7: 4}  # C -> Am, F -> Dm, G -> Em
    for before, after in zip(own, chords, strict=True):
        assert after.root in (before.root, relatives[before.root])
    assert roots(chords) != roots(own)

    # The melody sounds E over the first bar's C: that one stays major; the last bar's C has E
    # too. F's third A sounds in bar 2: F stays. Nothing changes: not reported.
    chords, applied = _harmony(("mode_change",))
    assert applied == () and chords == own
    quiet = np.array([[0.0, 4.0, 72.0], [4.0, 4.0, 72.0]])  # C only: the thirds are free
    chords, applied = reharmonise(
        quiet, np.array([0.0, 4.0]), 8.0, 1.0, 0, "major", own[:2], ("mode_change",), rng
    )
    assert applied == ("mode_change",) and [c.pcs for c in chords] == [(0, 3, 7), (0, 5, 8)]

    chords, applied = _harmony(("secondary_dominant",), seed=3)
    assert applied == ("secondary_dominant",)
    dominants = [c for c in chords if len(c.pcs) == 4]
    assert dominants and all(c.pcs == tuple(sorted({(c.root + i) % 12 for i in (0, 4, 7, 10)})) for c in dominants)  # fmt: skip
    for dominant in dominants:  # each resolves a fifth down, onto a chord that is not the tonic
        following = next(c for c in chords if c.onset == dominant.onset + dominant.duration)
        assert following.root == (dominant.root - 7) % 12 != 0

    chords, applied = _harmony(("sevenths",), seed=2)
    assert applied == ("sevenths",)
    added = [set(c.pcs) - set(o.pcs) for c, o in zip(chords, own, strict=True)]
    assert {frozenset(a) for a in added} <= {frozenset(), frozenset({11}), frozenset({4}), frozenset({5})}  # fmt: skip
    assert any(added)  # Cmaj7 (B), Fmaj7 (E), G7 (F)

    chords, applied = _harmony(("half_bar",))
    assert applied == ("half_bar",) and len(chords) == 8
    assert [c.onset for c in chords] == [0, 2, 4, 6, 8, 10, 12, 14]

    best = harmonise(melody, np.arange(0.0, 16.0, 4.0), 16.0, 0, "major")
    chords, applied = _harmony(("refit",), seed=4)
    assert applied == ("refit",) and chords != best
    for chord in chords:  # every other choice still holds half of its bar's melody or more
        bar = melody[(melody[:, 0] >= chord.onset) & (melody[:, 0] < chord.onset + 4)]
        assert np.mean([p % 12 in chord.pcs for p in bar[:, 2]]) >= 0.5


# --- the melody changes, one by one ---------------------------------------------------------


def test_melody_changes_keep_its_notes_and_add_around_them():
    _, melody = _progression()
    rng = np.random.default_rng(0)

    ornamented = ornament(melody, 1.0, C_MAJOR, rng)
    assert len(ornamented) > len(melody)
    for onset, length, pitch in melody:  # each note still ends on its own pitch, on time
        inside = ornamented[(ornamented[:, 0] >= onset) & (ornamented[:, 0] < onset + length)]
        assert inside[-1, 2] == pitch and inside[-1, 0] + inside[-1, 1] == onset + length
        assert np.all(np.abs(inside[:, 2] - pitch) <= 2)  # neighbours of the scale
    assert np.isclose(ornamented[:, 1].sum(), melody[:, 1].sum())

    passing = pass_between(melody, C_MAJOR, np.random.default_rng(1))
    added = [tuple(n) for n in passing if tuple(n) not in {tuple(m) for m in melody}]
    assert added and np.isclose(passing[:, 1].sum(), melody[:, 1].sum())
    for onset, _, pitch in passing:
        if pitch not in melody[:, 2] or onset % 1:
            before = melody[melody[:, 0] < onset][-1, 2]
            after = melody[melody[:, 0] > onset][0, 2]
            assert min(before, after) < pitch < max(before, after)  # between the third's notes

    displaced = displace(melody, np.arange(0.0, 16.0, 4.0), 1.0, np.random.default_rng(2))
    assert displaced[:, 2].tolist() == melody[:, 2].tolist()  # the same notes ...
    moved = displaced[:, 0] - melody[:, 0]
    assert set(np.round(moved, 6)) <= {-0.5, 0.0, 0.5} and np.any(moved)  # ... an eighth off
    assert np.allclose(displaced[:-1, 0] + displaced[:-1, 1], displaced[1:, 0])  # legato kept

    piece = _piece((melody,), np.arange(0.0, 16.0, 4.0))
    varied, applied = vary_melody(melody, piece, ("octave",), np.random.default_rng(0))
    assert applied == ("octave",) and set(varied[:, 2] - melody[:, 2]) in ({12.0}, {-12.0})
    varied, applied = vary_melody(melody, piece, MELODY_CHANGES, np.random.default_rng(0))
    assert applied == MELODY_CHANGES


# --- the form -------------------------------------------------------------------------------


def _piece(parts, bars, length_q=None) -> Piece:
    length_q = length_q or float(max(p[:, 0].max() + p[:, 1].max() for p in parts))
    return Piece(
        name="test", composer="", parts=tuple(parts), chords=(), bar_offsets=bars,
        length_q=length_q, beat_q=1.0, beats_per_bar=4, quarter_bpm=None, tonic=0, mode="major",
    )  # fmt: skip


def _phrase(pitches, start):
    return [(start + i, 1.0, p) for i, p in enumerate(pitches)]


def test_a_section_is_repeated_or_left_out_and_the_work_still_opens_the_version():
    a, b, c = [60, 62, 64, 65] * 2, [67, 65, 64, 62] * 2, [64, 62, 60, 60] * 2
    melody = np.array(_phrase(a, 0) + _phrase(a, 8) + _phrase(b, 16) + _phrase(c, 24), dtype=float)
    piece = _piece((melody,), np.arange(0.0, 32.0, 4.0))  # 8 bars: phrases of 4 bars... of 2
    assert sections(piece) == [(0.0, 16.0), (16.0, 32.0)]
    short = _piece((melody,), np.arange(0.0, 32.0, 8.0))  # 4 bars of 8: phrases of 2 bars
    assert sections(short) == [(0.0, 16.0), (16.0, 32.0)]
    bars = np.arange(0.0, 32.0, 2.0)  # 16 bars of 2 beats: phrases of 4 bars = 8 beats
    piece = _piece((melody,), bars)
    assert sections(piece) == [(0.0, 8.0), (8.0, 16.0), (16.0, 24.0), (24.0, 32.0)]

    rng = np.random.default_rng(0)
    repeated, kind, spans = restructure(piece, "section_repeated", rng)
    assert kind == "section_repeated" and repeated.length_q == 40.0 and len(spans) == 5
    assert spans[0] == (0.0, 8.0) and len(set(spans)) == 4  # one played twice, after itself
    i = next(k for k in range(4) if spans[k] == spans[k + 1])
    twice = repeated.parts[0]
    first = twice[(twice[:, 0] >= 8 * i) & (twice[:, 0] < 8 * i + 8)]
    second = twice[(twice[:, 0] >= 8 * i + 8) & (twice[:, 0] < 8 * i + 16)]
    assert np.array_equal(first[:, 2], second[:, 2])

    # A A B C: the repeat of A is what goes.
    dropped, kind, spans = restructure(piece, "section_dropped", rng)
    assert kind == "repeat_dropped" and spans == ((0.0, 8.0), (16.0, 24.0), (24.0, 32.0))
    assert dropped.parts[0][:, 2].tolist() == a + b + c
    assert len(dropped.bar_offsets) == 12 and dropped.length_q == 24.0

    # A B C D: a section but the first; two sections: nothing (half the work would go).
    varied = melody.copy()
    varied[8:16, 2] += 1
    dropped, kind, spans = restructure(_piece((varied,), bars), "section_dropped", rng)
    assert kind == "section_dropped" and spans[0] == (0.0, 8.0) and len(spans) == 3
    two = _piece((varied[:16],), np.arange(0.0, 16.0, 2.0))  # A B
    assert restructure(two, "section_dropped", rng)[1:] == ("none", ((0.0, 16.0),))
    same, kind, spans = restructure(piece, "none", rng)
    assert same is piece and kind == "none" and spans == ((0.0, 32.0),)


# --- the draws ------------------------------------------------------------------------------


def test_covers_are_drawn_from_the_version_stream_alone(tune):
    work, versions = tune
    for version_idx in (0, 3):
        rng = np.random.default_rng([SEED, work.work_idx, version_idx])
        plan = plan_version(work, version_idx, CONFIG, rng)
        again = cover_voices(plan.cover, plan.band, plan.key_shift, CONFIG, rng)
        first_plan, first = versions[version_idx]
        assert plan.cover.columns() == first_plan.cover.columns()
        assert plan.cover.score.chords == first_plan.cover.score.chords
        assert len(again) == len(first)
        for a, b in zip(again, first, strict=True):
            assert a.role == b.role and np.array_equal(a.notes, b.notes)
    columns = [plan.cover.columns() for plan, _ in versions]
    assert len({tuple(c.values()) for c in columns}) >= N_VERSIONS * 3 // 4


def test_every_kind_of_change_is_drawn_at_the_default_probabilities(tune, folk_song, mass):
    plans = [plan for _, versions in (tune, folk_song, mass) for plan, _ in versions]
    columns = [plan.cover.columns() for plan in plans]
    assert {c["var_structure"] for c in columns} >= {"none", "section_repeated"}
    assert {c["var_structure"] for c in columns} & {"repeat_dropped", "section_dropped"}
    melody = {tag for c in columns for tag in c["var_melody"].split(",")}
    assert melody >= {"none", *MELODY_CHANGES}
    harmony = {tag for c in columns for tag in c["var_harmony"].split(",")}
    assert harmony >= {"none", "fitted", "refit", "half_bar", "sevenths"}
    assert len({c["var_texture"] for c in columns}) >= 9
    assert {plan.cover.arrangement for plan in plans} >= {"full", "doubled"}
    # About a quarter of the melodies keep the work's harmony (0.3 of those accompanied).
    accompanied = [c for c in columns if c["var_texture"] not in ("parts", "melody_only")]
    kept = np.mean([c["var_harmony"] == "none" for c in accompanied])
    assert 0.1 <= kept <= 0.45


def test_without_variation_every_version_plays_the_work_as_written(tune):
    work, _ = tune
    fixed = CoverSettings(
        p_section_repeated=0.0, p_section_dropped=0.0, p_ornaments=0.0, p_passing_notes=0.0,
        p_displacement=0.0, p_melody_octave=0.0, p_new_harmony=0.0, textures={"block": 1.0},
        p_doubled=0.0,
    )  # fmt: skip
    for seed in range(5):
        cover = draw_cover(work.piece, fixed, np.random.default_rng(seed))
        assert cover.columns() == {
            "var_structure": "none",
            "var_melody": "none",
            "var_harmony": "none",
            "var_texture": "block",
        }
        assert cover.score.chords == work.piece.chords
        assert np.array_equal(cover.score.parts[0], work.piece.parts[0])


@pytest.mark.parametrize("texture", [t for t in TEXTURES if t != "melody_only"])
def test_an_excerpt_whose_melody_rests_throughout_still_gets_its_accompaniment(texture):
    """A filler's excerpt can be bars of rests in the melody (the default run's render stopped
    on one: the chords' register was the median of no notes)."""
    chords, _ = _progression()
    resting = np.zeros((0, 3))
    piece = Piece(
        name="test", composer="", parts=(resting,), chords=chords,
        bar_offsets=np.arange(0.0, 16.0, 4.0), length_q=16.0, beat_q=1.0, beats_per_bar=4,
        quarter_bpm=None, tonic=0, mode="major",
    )  # fmt: skip
    band = Band(ensemble="test", melody=0, inner=(48,), bass=32, drums=False)
    voices = arrange(piece, band, "full", texture, 0.0, np.random.default_rng(0))
    assert not any(len(v.notes) for v in voices if v.role == "melody")
    accompaniment = np.concatenate([v.notes for v in voices if v.role != "melody"])
    assert len(accompaniment) > 0 and accompaniment[:, 2].max() < 84  # under the usual melody
