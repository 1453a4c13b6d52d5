"""The rendered corpus: real pieces (never Bach) rendered by FluidSynth as covers of each other."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from music21 import corpus

from coverhunter.corpora.generator_record import RECORD_FILE
from coverhunter.corpora.registry import render_collection
from coverhunter.corpora.rendered_corpus.arrangement import drum_pattern, fold_octaves
from coverhunter.corpora.rendered_corpus.collection import render_corpus_collection
from coverhunter.corpora.rendered_corpus.config import RenderedCorpusConfig
from coverhunter.corpora.rendered_corpus.corpus_pieces import (
    Candidate,
    PieceError,
    clip_notes,
    corpus_root,
    list_candidates,
    load_piece,
)
from coverhunter.corpora.rendered_corpus.cover import (
    MELODY_CHANGES,
    STRUCTURES,
    CoverSettings,
    as_written,
)
from coverhunter.corpora.rendered_corpus.fluidsynth import render_midi
from coverhunter.corpora.rendered_corpus.harmony import HARMONY_CHANGES, Chord, harmonise
from coverhunter.corpora.rendered_corpus.midi_file import MidiNotes, write_midi
from coverhunter.corpora.rendered_corpus.performance import Timing, warp
from coverhunter.corpora.rendered_corpus.room import add_reverb, room_impulse
from coverhunter.corpora.rendered_corpus.texture import TEXTURES, accompany, bass_pitch, voice
from coverhunter.corpora.rendered_corpus.versions import plan_version, render_version
from coverhunter.corpora.rendered_corpus.works import plan_work, select_candidates, work_id_of

TINY = RenderedCorpusConfig(
    n_works=3,
    min_versions=2,
    max_versions=2,
    min_duration_s=10.0,
    max_duration_s=14.0,
    min_excerpt_s=5.0,
    max_excerpt_s=12.0,
    max_prelude_s=4.0,
    max_outro_s=3.0,
    p_prelude=0.7,
    n_fillers=6,
    n_jobs=1,
)
SEED = 3


@pytest.fixture(scope="module")
def collection(tmp_path_factory, fluidsynth_soundfont) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("rendered") / "corpus"
    return root, render_corpus_collection(root, TINY, SEED)


# --- the corpus: candidates, no Bach --------------------------------------------------------


def test_no_bach_among_the_candidates_nor_in_any_selection():
    candidates = list_candidates(TINY.max_score_kb)
    assert len(candidates) > 10_000  # folk tunes, masses, madrigals, quartets ...
    assert not [c.name for c in candidates if "bach" in c.name.lower()]
    # music21's own list of Bach files (chorales and all), every one of them left out:
    names = {c.path for c in candidates}
    bach = [Path(p).relative_to(corpus_root()).as_posix() for p in corpus.getComposer("bach")]
    assert len(bach) > 400 and not names & set(bach)
    for seed in (0, 1, 7):
        order, fillers = select_candidates(RenderedCorpusConfig(), seed)
        assert not [c.name for c in [*order, *fillers] if "bach" in c.name.lower()]
        assert not set(fillers) & set(order)  # a prelude is never one of the works


def test_each_piece_is_one_candidate_with_its_own_work_id():
    candidates = list_candidates(TINY.max_score_kb)
    names = {c.name for c in candidates}
    # Beethoven's op. 18 no. 1 is in the corpus as .krn and .mxl: one work, not two.
    assert "beethoven/opus18no1/movement4.mxl" in names
    assert "beethoven/opus18no1/movement4.krn" not in names
    assert len({work_id_of(c) for c in candidates}) == len(candidates)
    assert work_id_of(Candidate("essenFolksong/altdeu10.abc", 5)) == "rc_essenFolksong_altdeu10_5"


def test_a_bach_file_is_refused_even_when_asked_for():
    with pytest.raises(PieceError, match="Bach"):
        load_piece(Candidate("bach/bwv66.6.mxl"))
    with pytest.raises(PieceError, match="Bach"):
        load_piece(Candidate("cpebach/h186.mxl"))


def test_selection_is_seeded_and_spreads_over_collections():
    order_a, _ = select_candidates(TINY, 0)
    order_b, _ = select_candidates(TINY, 0)
    order_c, _ = select_candidates(TINY, 1)
    assert order_a[:50] == order_b[:50] and order_a[:50] != order_c[:50]
    first = {c.collection for c in order_a[:20]}
    assert len(first) == 20  # round robin: twenty collections before any repeats


def test_a_piece_is_parsed_into_parts_with_bars_metre_and_key():
    piece = load_piece(Candidate("palestrina/Agnus_01.krn"))
    assert len(piece.parts) == 5 and piece.chords == ()
    means = [float(np.mean(p[:, 2])) for p in piece.parts]
    assert means == sorted(means, reverse=True)  # highest part first: the melody
    assert piece.bar_offsets[0] == 0 and np.all(np.diff(piece.bar_offsets) > 0)
    assert "Palestrina" in piece.composer
    tune = load_piece(Candidate("nottingham-dataset/reelsa-c.abc", 81))  # "Little Czech Number"
    assert len(tune.parts) == 1 and (tune.tonic, tune.mode) == (9, "minor")  # K:Am
    assert tune.chords[0] == Chord(1.0, 3.0, 9, (0, 4, 9))  # "Am" on beat 2 until "E7"


def test_notes_are_clipped_to_an_excerpt_and_moved_to_zero():
    notes = np.array([[0.0, 1.0, 60], [3.5, 2.0, 62], [4.0, 1.0, 64], [8.0, 1.0, 65]])
    assert clip_notes(notes, 4.0, 8.0).tolist() == [[0.0, 1.0, 64.0]]
    assert clip_notes(notes, 0.0, 4.5).tolist() == [[0.0, 1.0, 60.0], [3.5, 1.0, 62.0], [4.0, 0.5, 64.0]]  # fmt: skip


# --- the parts: harmony, arrangement, timing, MIDI, FluidSynth, room ------------------------


def test_harmonise_fits_the_triad_covering_most_of_each_bar():
    # C major. Bar 1 sounds C E G: I. Bar 2 sounds B, D (longest), G: V scores 4 + 0.5 (its root
    # G), ii 2 + 1. Bar 3 is empty: V stays. Bar 4 sounds A and C: IV and vi both hold them,
    # only vi's root sounds: vi.
    melody = np.array(
        [[0, 1, 60], [1, 1, 64], [2, 2, 67], [4, 1, 71], [5, 2, 74], [7, 1, 67], [12, 1, 69], [13, 1, 72]]
    )  # fmt: skip
    chords = harmonise(melody, np.array([0.0, 4.0, 8.0, 12.0]), 16.0, tonic=0, mode="major")
    assert [c.root for c in chords] == [0, 7, 7, 9]
    assert chords[1] == Chord(4.0, 4.0, 7, (2, 7, 11))


def test_chords_are_voiced_near_the_centre_with_the_root_in_the_bass():
    assert voice((0, 4, 7), centre=60, open_voicing=False) == [55, 60, 64]  # G3 C4 E4
    assert voice((0, 4, 7), centre=60, open_voicing=True) == [55, 64, 72]  # C moved up
    assert bass_pitch(0) == 36  # C2
    # The accompaniments of before, now two of the textures: block chords and an arpeggio.
    metre = (np.array([0.0]), 2.0, 1.0, 2, 0)  # bars, length, beat, beats a bar, tonic
    c_major, melody = (Chord(0.0, 2.0, 0, (0, 4, 7)),), np.zeros((0, 3))
    (roots, _), (upper, _) = accompany(c_major, "block", melody, *metre, centre=60)
    assert upper.tolist() == [[0, 2, 55], [0, 2, 60], [0, 2, 64]]
    assert roots.tolist() == [[0, 2, 36]]
    (_, _), (upper, _) = accompany(c_major, "arpeggio", melody, *metre, centre=60)
    assert upper.tolist() == [[0, 0.5, 55], [0.5, 0.5, 60], [1.0, 0.5, 64], [1.5, 0.5, 55]]


def test_octaves_fold_into_range_and_the_drums_follow_the_bars():
    assert fold_octaves(np.array([10.0, 60.0, 115.0]), 24, 103).tolist() == [34.0, 60.0, 103.0]
    piece = load_piece(Candidate("nottingham-dataset/reelsa-c.abc", 81))
    one_bar = replace(piece, bar_offsets=np.array([0.0]), length_q=4.0)
    kit = {(float(t), int(k)) for t, _, k in drum_pattern(one_bar)}
    assert {(0.0, 36), (1.0, 38), (2.0, 36), (3.0, 38)} <= kit  # kick, snare, kick, snare
    assert sorted(t for t, k in kit if k == 42) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]


def test_rubato_starts_at_zero_keeps_order_and_averages_to_the_tempo():
    steady = Timing(0.5, 0.0, 6.0, 1.0, 0.0, 1.0)
    assert warp(np.array([0.0, 1.0, 4.0]), steady).tolist() == [0.0, 0.5, 2.0]
    bent = replace(steady, rubato_depth=0.08)
    seconds = warp(np.linspace(0, 48, 2000), bent)
    assert seconds[0] == 0.0 and np.all(np.diff(seconds) > 0)
    assert abs(seconds[-1] - 24.0) <= 0.08 * 6.0 / (2 * np.pi) * 2  # within the bend's amplitude


def test_room_impulse_has_unit_energy_a_predelay_and_a_60_db_decay():
    rng = np.random.default_rng(0)
    impulse = room_impulse(0.5, 16000, rng, predelay_s=0.01)
    assert len(impulse) == 160 + 8000 and np.all(impulse[:160] == 0)
    assert np.isclose(np.sum(impulse.astype(np.float64) ** 2), 1.0, atol=1e-5)
    head, tail = impulse[160:960], impulse[-800:]  # first and last 50 ms
    drop_db = 10 * np.log10(
        np.mean(head.astype(np.float64) ** 2) / np.mean(tail.astype(np.float64) ** 2)
    )
    assert 50 < drop_db < 60
    audio = rng.standard_normal(4000).astype(np.float32)
    assert np.array_equal(add_reverb(audio, impulse, 0.0), audio)


def test_a_midi_a4_renders_as_440_hz_starting_on_time(tmp_path, fluidsynth_soundfont):
    notes = MidiNotes(
        start_s=np.array([0.5]),
        end_s=np.array([1.5]),
        pitch=np.array([69]),
        velocity=np.array([100]),
        channel=np.array([0]),
        programs={0: 73},  # flute: a nearly pure tone
    )
    write_midi(notes, tmp_path / "a4.mid")
    audio = render_midi(tmp_path / "a4.mid", fluidsynth_soundfont, 16000, "fluidsynth", 0.3)
    assert audio.ndim == 1 and audio.dtype == np.float32
    assert np.max(np.abs(audio[:7600])) < 1e-3 < np.max(np.abs(audio[8000:9600]))  # starts at 0.5 s
    spectrum = np.abs(np.fft.rfft(audio[9000:25000]))
    assert abs(int(np.argmax(spectrum)) - 440) <= 2  # one second: 1 Hz bins


# --- the collection -------------------------------------------------------------------------


def test_missing_soundfont_or_fluidsynth_says_what_and_how_to_install(tmp_path):
    root = tmp_path / "corpus"
    with pytest.raises(ValueError, match=r"soundfont /no/such/gm\.sf2 not found.*apt-get install fluidsynth fluid-soundfont-gm"):  # fmt: skip
        render_corpus_collection(root, replace(TINY, soundfont="/no/such/gm.sf2"), SEED)
    with pytest.raises(ValueError, match=r"FluidSynth program 'no-such-fluidsynth' not found.*make system-deps"):  # fmt: skip
        render_corpus_collection(root, replace(TINY, fluidsynth="no-such-fluidsynth"), SEED)
    assert not root.exists()  # checked before anything is written


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="max_tempo"):
        RenderedCorpusConfig(min_tempo=1.2, max_tempo=1.0)
    with pytest.raises(ValueError, match="ensembles"):
        RenderedCorpusConfig(ensembles=("kazoo_band",))
    # The cover's settings come as a mapping from the parameters.
    assert RenderedCorpusConfig(cover={"p_refit": 0.5}).cover == CoverSettings(p_refit=0.5)
    with pytest.raises(ValueError, match="cover.p_new_voices"):
        RenderedCorpusConfig(cover={"p_new_voices": 1.5})
    with pytest.raises(ValueError, match="cover.textures"):
        RenderedCorpusConfig(cover={"textures": {"kazoo": 1.0}})
    with pytest.raises(TypeError, match="p_reharmonise"):
        RenderedCorpusConfig(cover={"p_reharmonise": 0.5})


def test_ground_truth_lists_real_pieces_as_works_with_consistent_sections(collection, recording_of):
    root, table = collection
    assert list(table.columns[:3]) == ["perf_id", "work_id", "true_offset_s"]
    assert "path" not in table  # the folder layout says where each recording is
    assert table["work_id"].nunique() == 3 and len(table) == 6
    assert table.groupby("work_id")["piece"].nunique().eq(1).all()
    assert not table["piece"].str.lower().str.contains("bach").any()
    sr = TINY.sample_rate
    for row in table.itertuples():
        assert recording_of(root, row).is_file()
        assert row.perf_id.startswith(row.work_id + "_v")
        assert row.true_offset_s == row.prelude_s
        samples = [round(s * sr) for s in (row.prelude_s, row.shared_s, row.outro_s)]
        assert sum(samples) == round(row.duration_s * sr)
        assert 10.0 <= row.duration_s <= 14.0
        assert bool(row.prelude_piece) == (row.prelude_s > 0)
        assert -6 <= row.key_shift <= 6 and 0.8 <= row.tempo <= 1.25 and 0 <= row.snr_db <= 30
    assert (table["prelude_s"] > 0).any() and (table["prelude_s"] == 0).any()
    others = set(table["prelude_piece"]) | set(table["outro_piece"])
    assert not others & set(table["piece"])  # the other music is never one of the works


def test_ground_truth_records_what_each_version_changed(collection):
    _, table = collection
    assert set(table["var_structure"]) <= set(STRUCTURES)
    for column, names in (("var_melody", MELODY_CHANGES), ("var_harmony", HARMONY_CHANGES)):
        for value in table[column]:
            assert value == "none" or set(value.split(",")) <= {"fitted", *names}, value
    assert set(table["var_texture"]) <= {"parts", *TEXTURES}
    # The written voices are played only by pieces that have several; their own harmony then.
    parts = table["var_texture"] == "parts"
    assert (table.loc[parts, "n_parts"] > 1).all()
    assert (table.loc[parts, "var_harmony"] == "none").all()


def test_files_are_16k_mono_with_the_listed_durations(collection, recording_of):
    root, table = collection
    for row in table.itertuples():
        info = sf.info(recording_of(root, row))
        assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")
        assert info.frames == round(row.duration_s * 16000)
        audio, _ = sf.read(recording_of(root, row), dtype="float32")
        peak_db = 20 * np.log10(np.max(np.abs(audio)))
        assert abs(peak_db - row.peak_db) < 0.1  # loud enough, never clipped


def test_same_seed_gives_the_same_table_and_audio_whatever_n_jobs(
    collection, tmp_path, recording_of
):
    root, table = collection
    # Two works in two processes: the first two works of the table, byte for byte.
    again = render_corpus_collection(tmp_path / "again", replace(TINY, n_works=2, n_jobs=2), SEED)
    order, _ = select_candidates(TINY, SEED)
    ranked = [work_id_of(c) for c in order if work_id_of(c) in set(table["work_id"])]
    first_two = table[table["work_id"].isin(ranked[:2])].reset_index(drop=True)
    assert again.equals(first_two)
    for row in again.itertuples():
        a, b = recording_of(root, row), recording_of(tmp_path / "again", row)
        assert np.array_equal(sf.read(a)[0], sf.read(b)[0])
        assert Path(a).read_bytes() == Path(b).read_bytes()  # FluidSynth is deterministic here


def test_a_second_call_reuses_the_files_and_the_record(collection):
    root, table = collection
    manifest = json.loads((root / RECORD_FILE).read_text())
    assert len(manifest["fingerprint"]) == 64 and manifest["seed"] == SEED
    mtimes = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    assert render_corpus_collection(root, TINY, SEED).equals(table)
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == mtimes
    # Ingest's entry point: the config's fields as the parameters give them (their `root` is
    # the caller's; the root passed decides).
    settings = {"root": "elsewhere", **asdict(TINY), "ensembles": list(TINY.ensembles)}
    assert render_collection("rendered_corpus", settings, root, SEED).equals(table)


def test_more_works_keep_the_rendered_ones_untouched(collection, tmp_path):
    root, table = collection
    grown_root = tmp_path / "grown"
    shutil.copytree(root, grown_root)
    flacs = {p.relative_to(grown_root): p.stat().st_mtime_ns for p in grown_root.rglob("*.flac")}
    grown = render_corpus_collection(grown_root, replace(TINY, n_works=4), SEED)
    assert grown["work_id"].nunique() == 4
    assert set(table["work_id"]) < set(grown["work_id"])
    assert {p: (grown_root / p).stat().st_mtime_ns for p in flacs} == flacs


def test_the_work_starts_true_offset_s_into_therecording_of(
    tmp_path, fluidsynth_soundfont, recording_of
):
    """A version with a prelude, against the same version without: the work's audio matches
    at `true_offset_s` and not elsewhere."""
    config = replace(
        TINY, timing_jitter_s=0.0, velocity_jitter=0.0, p_octave_move=0.0, p_reverb=0.0,
        min_snr_db=90.0, max_snr_db=90.0, end_fade_s=0.0,
    )  # fmt: skip
    _, fillers = select_candidates(config, SEED)
    work = plan_work(Candidate("palestrina/Agnus_01.krn"), 0, config, SEED)
    plan = plan_version(work, 0, config, np.random.default_rng(0))
    plan = replace(plan, cover=as_written(work.piece), band=replace(plan.band, drums=False))
    sr, prelude_n, shared_n = config.sample_rate, 3 * config.sample_rate, 8 * config.sample_rate
    with_prelude = replace(plan, prelude_n=prelude_n, shared_n=shared_n, outro_n=0)
    without = replace(plan, prelude_n=0, shared_n=shared_n, outro_n=0)
    args = (fillers, config, fluidsynth_soundfont, "fluidsynth")
    audio_a, used = render_version(work, with_prelude, *args, np.random.default_rng(1), tmp_path)
    audio_b, _ = render_version(work, without, *args, np.random.default_rng(1), tmp_path)
    assert used["prelude_piece"] and len(audio_a) == prelude_n + shared_n
    window = slice(sr, 6 * sr)  # past the prelude's ringing notes, before the cut at the end

    def similarity(shift: int) -> float:
        a, b = audio_a[prelude_n + shift :][window], audio_b[window]
        return float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))

    assert similarity(0) > 0.95
    assert max(abs(similarity(s)) for s in (-sr // 2, -sr // 4, sr // 4, sr // 2)) < 0.5
