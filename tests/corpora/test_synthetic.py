"""The synthetic collection: real FLAC files, deterministic, cached, and covers that are covers."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from coverhunter.corpora.generator_record import RECORD_FILE
from coverhunter.corpora.synthetic.arrangement import voice_chord
from coverhunter.corpora.synthetic.collection import generate_synthetic_collection
from coverhunter.corpora.synthetic.config import SyntheticConfig
from coverhunter.corpora.synthetic.performance import reference_midi
from coverhunter.corpora.synthetic.score import beats_to_seconds
from coverhunter.corpora.synthetic.versions import plan_collection
from coverhunter.corpora.synthetic.voices import VOICES, render_note

TINY = SyntheticConfig(
    n_works=3,
    min_versions=2,
    max_versions=3,
    min_duration_s=10.0,
    max_duration_s=15.0,
    max_prelude_s=4.0,
    max_outro_s=3.0,
    n_jobs=1,
)
SEED = 0


@pytest.fixture(scope="module")
def collection(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("synthetic") / "default"
    return root, generate_synthetic_collection(root, TINY, SEED)


def _flac_bytes(root: Path) -> dict[str, bytes]:
    return {path.stem: path.read_bytes() for path in sorted(root.glob("syn_w*/*.flac"))}


def _mtimes(root: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in [*root.glob("syn_w*/*.flac"), root / RECORD_FILE]}


def _fingerprint(root: Path) -> str:
    return json.loads((root / RECORD_FILE).read_text())["fingerprint"]


def test_ground_truth_has_ids_and_consistent_sections_and_the_files_the_folder_layout(
    collection, recording_of
):
    root, table = collection
    assert list(table.columns[:3]) == ["perf_id", "work_id", "true_offset_s"]
    assert "path" not in table  # the folder layout says where each recording is
    assert {"key_shift", "tempo", "voice", "arrangement", "snr_db", "prelude_s", "outro_s"} <= set(
        table.columns
    )
    assert table["work_id"].nunique() == 3
    assert table.groupby("work_id").size().between(2, 3).all()
    for row in table.itertuples():
        assert re.fullmatch(r"syn_w\d{4}", row.work_id)
        assert re.fullmatch(re.escape(row.work_id) + r"_p\d{2}", row.perf_id)
        assert recording_of(root, row).is_file()
        assert row.true_offset_s == row.prelude_s
        samples = [round(s * TINY.sample_rate) for s in (row.prelude_s, row.shared_s, row.outro_s)]
        assert sum(samples) == round(row.duration_s * TINY.sample_rate)
        assert 10.0 <= row.duration_s <= 15.0
        assert row.shared_s >= 0.5 * row.duration_s  # min_shared_fraction
    assert (table["prelude_s"] > 0).any() and (table["outro_s"] > 0).any()


def test_files_are_16k_mono_flac_of_the_listed_length_neither_silent_nor_clipped(
    collection, recording_of
):
    root, table = collection
    for row in table.itertuples():
        info = sf.info(recording_of(root, row))
        assert (info.format, info.subtype) == ("FLAC", "PCM_16")
        assert (info.samplerate, info.channels) == (16000, 1)
        assert info.frames == round(row.duration_s * 16000)
        audio, _ = sf.read(recording_of(root, row), dtype="float32")
        assert np.sqrt(np.mean(audio**2)) > 0.01
        # Each version is scaled to its own peak level, well short of full scale.
        assert np.max(np.abs(audio)) == pytest.approx(10 ** (row.peak_db / 20), abs=1e-3)
        assert np.max(np.abs(audio)) < 10 ** (TINY.max_peak_db / 20) + 1e-3


def test_same_seed_gives_identical_bytes_whatever_the_workers_and_another_seed_differs(
    collection, tmp_path
):
    root, table = collection
    again = generate_synthetic_collection(tmp_path / "again", replace(TINY, n_jobs=2), SEED)
    assert _flac_bytes(tmp_path / "again") == _flac_bytes(root)
    assert _fingerprint(tmp_path / "again") == _fingerprint(root)
    pd.testing.assert_frame_equal(again, table)

    other = generate_synthetic_collection(tmp_path / "other", TINY, SEED + 1)
    assert not other.equals(table)
    mine, theirs = _flac_bytes(root), _flac_bytes(tmp_path / "other")
    assert all(mine[perf] != theirs[perf] for perf in mine.keys() & theirs.keys())


def test_adding_works_keeps_existing_files_and_renders_only_the_new_ones(collection, tmp_path):
    root, _ = collection
    smaller = tmp_path / "grow"
    generate_synthetic_collection(smaller, replace(TINY, n_works=2), SEED)
    full = _flac_bytes(root)
    first_two = {perf: data for perf, data in full.items() if not perf.startswith("syn_w0002")}
    assert _flac_bytes(smaller) == first_two

    before = _mtimes(smaller)
    generate_synthetic_collection(smaller, TINY, SEED)
    after = _mtimes(smaller)
    assert all(after[name] == before[name] for name in before if name.endswith(".flac"))
    assert _flac_bytes(smaller) == full
    assert _fingerprint(smaller) == _fingerprint(root)


def test_second_call_with_the_same_request_renders_nothing(collection):
    root, table = collection
    before = _mtimes(root)
    again = generate_synthetic_collection(root, replace(TINY, n_jobs=2), SEED)
    assert _mtimes(root) == before
    pd.testing.assert_frame_equal(again, table)


def test_changed_request_rerenders_drops_stale_works_and_restores_missing_files(
    tmp_path, recording_of
):
    root = tmp_path / "change"
    (root / "user_notes").mkdir(parents=True)
    generate_synthetic_collection(root, replace(TINY, n_works=2), SEED)
    old = _flac_bytes(root)

    quieter = replace(TINY, n_works=1, max_snr_db=10.0)
    table = generate_synthetic_collection(root, quieter, SEED)
    assert sorted(p.name for p in root.iterdir()) == [RECORD_FILE, "syn_w0000", "user_notes"]
    new = _flac_bytes(root)
    assert set(new) == set(table["perf_id"])
    assert all(new[perf] != old[perf] for perf in new)
    assert json.loads((root / RECORD_FILE).read_text())["request"]["settings"]["max_snr_db"] == 10

    lost = recording_of(root, next(table.itertuples()))
    lost.unlink()
    generate_synthetic_collection(root, quieter, SEED)
    assert _flac_bytes(root) == new


def _chroma(audio: np.ndarray, sample_rate: int, n_fft: int = 4096, hop: int = 1024):
    """Mean-centred unit chroma `(frames, 12)` from a numpy STFT, and the frame step in seconds."""
    frames = np.lib.stride_tricks.sliding_window_view(audio, n_fft)[::hop] * np.hanning(n_fft)
    magnitude = np.abs(np.fft.rfft(frames, axis=1))
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    band = (freqs > 60) & (freqs < 4000)
    pitch_class = np.round(12 * np.log2(freqs[band] / 440.0)).astype(int) % 12
    chroma = np.stack([magnitude[:, band][:, pitch_class == k].sum(1) for k in range(12)], 1)
    chroma -= chroma.mean(1, keepdims=True)
    return chroma / (np.linalg.norm(chroma, axis=1, keepdims=True) + 1e-9), hop / sample_rate


def _shared_similarity(a, b, chroma: dict, shift_b_s: float = 0.0) -> float:
    """Mean chroma correlation over the shared music, time-aligned by the tempo ratio and
    maximised over the 12 transpositions (so key does not matter)."""
    (ca, step), (cb, _) = chroma[a.perf_id], chroma[b.perf_id]
    ratio = a.tempo / b.tempo  # seconds of b per second of a
    tau = np.arange(0.0, min(a.shared_s, (b.shared_s - shift_b_s) / ratio) - 0.3, step)
    ia = np.round((a.true_offset_s + tau) / step).astype(int)
    ib = np.round((b.true_offset_s + shift_b_s + tau * ratio) / step).astype(int)
    keep = (ia < len(ca)) & (ib < len(cb))
    fa, fb = ca[ia[keep]], cb[ib[keep]]
    return max(float(np.mean(np.sum(fa * np.roll(fb, r, 1), 1))) for r in range(12))


def test_versions_share_music_from_true_offset_up_to_key_and_tempo(collection, recording_of):
    root, table = collection
    chroma = {
        row.perf_id: _chroma(sf.read(recording_of(root, row))[0], 16000)
        for row in table.itertuples()
    }
    same, different, misaligned = [], [], []
    for a, b in itertools.combinations(table.itertuples(), 2):
        if a.work_id == b.work_id:
            same.append(_shared_similarity(a, b, chroma))
            misaligned.append(_shared_similarity(a, b, chroma, shift_b_s=1.0))
        else:
            different.append(_shared_similarity(a, b, chroma))
    # Versions of a work agree once aligned at true_offset_s and the tempo ratio; other works do
    # not, and neither does the same work read a second off.
    assert np.mean(same) > np.mean(different) + 0.1
    assert np.mean(same) > np.mean(misaligned) + 0.1


def test_plan_draws_key_tempo_voice_and_sections_per_version_not_per_work():
    config = SyntheticConfig()
    plans = plan_collection(config, SEED)
    works = {}
    for plan in plans:
        works.setdefault(plan.work_idx, []).append(plan)
        seconds = np.array([plan.prelude_n, plan.shared_n, plan.outro_n]) / config.sample_rate
        assert 30.0 <= seconds.sum() <= 120.0
        assert seconds[0] <= 30.0 and seconds[2] <= 30.0 and seconds[1] >= 0.5 * seconds.sum()
        assert abs(plan.key_shift) <= 6 and 0.8 <= plan.performance.tempo <= 1.25
    assert len(works) == 120 and all(3 <= len(v) <= 6 for v in works.values())
    assert 0.6 < np.mean([p.prelude_n > 0 for p in plans]) < 0.8  # p_prelude 0.7
    assert {p.performance.melody_voice for p in plans} == set(VOICES)
    # A work keeps its melody but not its sound: few works have one voice or one key throughout.
    one_voice = [len({p.performance.melody_voice for p in v}) == 1 for v in works.values()]
    one_key = [len({p.performance.key for p in v}) == 1 for v in works.values()]
    assert np.mean(one_voice) < 0.1 and np.mean(one_key) < 0.1
    assert all(len({id(p.work) for p in v}) == 1 for v in works.values())


def test_config_rejects_bad_values_by_name():
    with pytest.raises(ValueError, match="max_tempo"):
        SyntheticConfig(min_tempo=1.5)
    with pytest.raises(ValueError, match="p_prelude"):
        SyntheticConfig(p_prelude=1.5)
    with pytest.raises(ValueError, match="max_peak_db"):
        SyntheticConfig(max_peak_db=0.0)
    with pytest.raises(TypeError):
        SyntheticConfig(n_work=3)  # a misspelt key is an error, not an ignored setting


def test_swing_moves_the_offbeat_only():
    # Beat 0.5 s, swing 2/3: the off-beat falls at 2/3 of a beat, a sixteenth at 1/3 of one.
    times = beats_to_seconds(np.array([0.0, 0.5, 1.0, 1.25, 1.75]), 0.5, 2 / 3)
    np.testing.assert_allclose(times, [0.0, 1 / 3, 0.5, 0.5 + 1 / 6, 0.5 + 5 / 12])
    np.testing.assert_allclose(beats_to_seconds(np.array([0.5, 2.25]), 0.4, 0.5), [0.2, 0.9])


def test_chord_voicing_and_key_register():
    assert voice_chord((0, 4, 7), 0) == [0, 4, 7]
    assert voice_chord((0, 4, 7), 1) == [4, 7, 12]
    assert voice_chord((9, 12, 16), 0) == [-3, 0, 4]  # vi kept near the tonic
    assert voice_chord((7, 11, 14, 17), 2) == [2, 5, 7, 11]  # V7, second inversion: D F G B
    # The tonic nearest middle C: G below it, F above it, the tritone F# below.
    assert [reference_midi(key, 60) for key in (0, 5, 6, 7)] == [60, 65, 54, 55]


def test_voices_are_in_tune_peak_normalised_and_sound_different():
    sample_rate, held = 16000, 8000

    def harmonic_profile_db(note: np.ndarray, start: int) -> np.ndarray:
        window = note[start : start + 1600] * np.hanning(1600)
        spectrum = np.abs(np.fft.rfft(window))  # 10 Hz bins: harmonic k of 440 Hz is bin 44k
        return 20 * np.log10(spectrum[44 * np.arange(1, 9)] / spectrum.max() + 1e-4)

    profiles = {}
    for voice in VOICES:
        note = render_note(voice, 69, held, sample_rate)
        assert note.dtype == np.float32 and len(note) > held
        assert np.max(np.abs(note)) == pytest.approx(1.0)
        spectrum = np.abs(np.fft.rfft(note[:held] * np.hanning(held)))
        if voice != "bell":  # FM bell partials are inharmonic by design
            assert np.argmax(spectrum) * sample_rate / held == pytest.approx(440.0, abs=2.0)
        # Early and late harmonic balance: the attack and the decay are part of the timbre.
        profiles[voice] = np.concatenate([harmonic_profile_db(note, s) for s in (800, 6400)])
    for a, b in itertools.combinations(VOICES, 2):
        assert np.mean(np.abs(profiles[a] - profiles[b])) > 3.0, (a, b)
    with pytest.raises(ValueError, match="kazoo"):
        render_note("kazoo", 69, held, sample_rate)
