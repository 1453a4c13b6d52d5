"""Real compositions as data: pieces of music21's corpus, each rendered as several "covers".

A work is a real piece (a folk tune, a madrigal, a mass movement, a string quartet, a rag, ...)
or an excerpt of a few phrases of it, in whole bars. Each version of it is a different rendering,
as real covers differ: the melody and mostly the form stay, the rest changes
(`cover.py`, probabilities in `cover:`, a `cover.CoverSettings`):
- the form: a section played twice, or one left out;
- the melody's reading: ornaments, passing notes, notes anticipated or delayed, another octave;
- the harmony and accompaniment: a piece of several parts keeps its written voices (dropped or
  doubled by arrangement, see `arrangement.py`) or plays its top voice over new chords
  fitted to it; a melody takes its own chords or re-drawn ones (another fit, substitutions,
  sevenths, the other mode, a chord every half bar: `harmony.py`), played in a texture
  (block chords, arpeggios, strumming, oom-pah, walking or pedal bass, a counter-melody, none:
  `texture.py`) and a voicing of its own;
- instrumentation: a General-MIDI ensemble (piano, strings, organ, guitar band with drums, brass,
  synth pop, woodwinds, choir, jazz combo), the programs drawn per version;
- tempo (0.8-1.25 times the piece's own) with a slow rubato and small onset errors;
- key (up to 6 semitones either way); voices other than the melody may move an octave;
- a prelude and/or outro of other music (another corpus piece, never one of the works, played as
  written) by the same band; the shared material starts `true_offset_s` into the recording;
- a room (synthetic reverberation), noise at 0-30 dB SNR and a loudness.
The ground truth records the cover's choices per version in four string columns (see
`cover.py`): `var_structure` ("none", "section_repeated", "repeat_dropped", "section_dropped"),
`var_melody` and `var_harmony` (the changes that altered something, comma-separated, or "none"),
and `var_texture` ("parts" for the written voices, else the texture's name); like every column of
the ground truth they flow into the manifest (`data/sources/generated.py` reads them back).

Steps per version: notes -> MIDI file (music21) -> FluidSynth with a General-MIDI soundfont ->
numpy (room, noise, loudness) -> 16 kHz mono 16-bit FLAC at `root/<work_id>/<perf_id>.flac`.

No Bach: every corpus path naming Bach (`bach/`, `cpebach/`) is out of the candidates and a
score whose composer is Bach is refused (an independent check of the project uses the chorales).

Works are the candidates in a seeded order that takes one piece of each corpus collection in turn
(`corpus_pieces.py`); a piece that fails to parse or is too short is skipped with a
warning and the next one takes its place. Streams are `numpy.random.default_rng([seed,
work_idx, version_idx])` (the work's own choices use `[seed, work_idx, WORK_STREAM]`), where
`work_idx` is the piece's place in that order: growing `n_works` keeps the existing works as they
are, and `n_jobs` changes nothing but speed. A version's cover is drawn from a stream seeded by
one draw of the version's stream, so its note-by-note choices shift none of the other draws.

`root/collection.json` records the request (seed, settings, soundfont, FluidSynth and music21
versions), each work's ground-truth rows, each file's size and SHA-256, the pieces skipped and
a fingerprint of the files; a second call with the same request returns the ground truth without
rendering anything that is still on disk.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import multiprocessing
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import music21
import numpy as np
import pandas as pd

from coverhunter.corpora.config_checks import check_collection_size, config_check
from coverhunter.corpora.generator_record import (
    RECORD_FILE,
    fingerprint,
    read_generator_record,
    write_generator_record,
)
from coverhunter.corpora.recording import NOISE_COLOURS, encode_flac, finish_recording
from coverhunter.corpora.rendered_corpus.arrangement import (
    ENSEMBLES,
    Band,
    Voice,
    arrange,
    pick_band,
    repeat,
    transpose,
)
from coverhunter.corpora.rendered_corpus.corpus_pieces import (
    Candidate,
    Piece,
    PieceError,
    excerpt,
    interleave_collections,
    list_candidates,
    load_piece,
)
from coverhunter.corpora.rendered_corpus.cover import (
    Cover,
    CoverSettings,
    as_written,
    cover_settings,
    draw_cover,
)
from coverhunter.corpora.rendered_corpus.fluidsynth import (
    find_fluidsynth,
    find_soundfont,
    fluidsynth_version,
    render_midi,
)
from coverhunter.corpora.rendered_corpus.midi_file import MidiNotes, write_midi
from coverhunter.corpora.rendered_corpus.performance import Timing, assign_channels, perform
from coverhunter.corpora.rendered_corpus.room import add_reverb, room_impulse
from coverhunter.data.atomic import write_bytes_atomically
from coverhunter.data.sources.folder import recording_path

logger = logging.getLogger(__name__)

# Bump when the same request would render different audio, so cached collections are redone.
GENERATOR_VERSION = 2
WORK_PREFIX = "rc_"
_WORK_DIR = re.compile(r"^rc_\w+$")
# Streams besides the versions' [seed, work_idx, version_idx] (version_idx stays below 100).
WORK_STREAM, ORDER_STREAM, FILLER_STREAM = 1000, 1001, 1002
_MIN_NOTES = 8  # an excerpt with fewer notes is no tune


@dataclass(frozen=True)
class RenderedCorpusConfig:
    """Size and difficulty of the rendered collection; `n_jobs` only sets the worker count."""

    n_works: int = 100
    min_versions: int = 3
    max_versions: int = 5
    min_duration_s: float = 30.0  # a recording's length, prelude and outro included
    max_duration_s: float = 60.0
    sample_rate: int = 16000
    min_excerpt_s: float = 10.0  # pieces shorter than this at their own tempo are skipped
    max_excerpt_s: float = 40.0  # longer pieces are cut to an excerpt of whole bars
    p_excerpt_from_start: float = 0.5  # otherwise the excerpt starts at a bar drawn at random
    max_score_kb: float = 1000.0  # bigger score files (whole quartets) take long to parse
    n_fillers: int = 40  # pieces set aside for preludes and outros; never works
    max_prelude_s: float = 15.0
    max_outro_s: float = 10.0
    p_prelude: float = 0.6
    p_outro: float = 0.4
    min_shared_fraction: float = 0.6  # prelude and outro shrink to leave this much of the work
    ensembles: tuple[str, ...] = tuple(ENSEMBLES)
    min_tempo: float = 0.8  # factors on the piece's tempo, drawn log-uniformly
    max_tempo: float = 1.25
    min_bpm: float = 70.0  # beats a minute of a piece whose score has no tempo mark
    max_bpm: float = 130.0
    max_key_shift: int = 6  # semitones either way
    p_octave_move: float = 0.2  # chance that a voice moves an octave
    timing_jitter_s: float = 0.012  # standard deviation of onset errors
    max_rubato: float = 0.06  # the local tempo deviates by up to this fraction
    min_rubato_period_s: float = 4.0
    max_rubato_period_s: float = 12.0
    min_legato: float = 0.7  # fraction of its written length that a note is held
    velocity_jitter: float = 0.15
    p_reverb: float = 0.8
    min_rt60_s: float = 0.2
    max_rt60_s: float = 1.5
    max_reverb_wet: float = 0.5
    min_snr_db: float = 0.0
    max_snr_db: float = 30.0
    p_pink_noise: float = 0.5  # otherwise white
    min_peak_db: float = -12.0
    max_peak_db: float = -1.0
    end_fade_s: float = 1.0
    synth_gain: float = 0.3  # FluidSynth's master gain; loudness is set afterwards
    soundfont: str | None = None  # a General-MIDI .sf2; None finds Debian's (see fluidsynth.py)
    fluidsynth: str = "fluidsynth"  # the FluidSynth program
    n_jobs: int = 2
    # What versions change as covers do (a mapping of its fields in the parameters).
    cover: CoverSettings = field(default_factory=CoverSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ensembles", tuple(self.ensembles))
        object.__setattr__(self, "cover", cover_settings(self.cover))

        check = config_check(self)
        check_collection_size(self)
        check(self.min_excerpt_s > 0, "min_excerpt_s", "must be positive")
        check(self.max_excerpt_s >= self.min_excerpt_s, "max_excerpt_s", ">= min_excerpt_s")
        check(self.max_score_kb > 0, "max_score_kb", "must be positive")
        check(self.n_fillers >= 1, "n_fillers", "must be >= 1")
        check(self.max_prelude_s >= 0, "max_prelude_s", "must be >= 0")
        check(self.max_outro_s >= 0, "max_outro_s", "must be >= 0")
        for name in (
            "p_excerpt_from_start", "p_prelude", "p_outro", "p_octave_move", "p_reverb", "p_pink_noise",
        ):  # fmt: skip
            check(0 <= getattr(self, name) <= 1, name, "must be a probability")
        check(0 < self.min_shared_fraction <= 1, "min_shared_fraction", "must be in (0, 1]")
        unknown = sorted(set(self.ensembles) - set(ENSEMBLES))
        check(bool(self.ensembles) and not unknown, "ensembles", f"choose from {list(ENSEMBLES)}")
        check(self.min_tempo > 0, "min_tempo", "must be positive")
        check(self.max_tempo >= self.min_tempo, "max_tempo", "must be >= min_tempo")
        check(self.min_bpm > 0, "min_bpm", "must be positive")
        check(self.max_bpm >= self.min_bpm, "max_bpm", "must be >= min_bpm")
        check(0 <= self.max_key_shift <= 11, "max_key_shift", "must be 0-11")
        check(self.timing_jitter_s >= 0, "timing_jitter_s", "must be >= 0")
        check(0 <= self.max_rubato < 1, "max_rubato", "must be in [0, 1)")
        check(self.min_rubato_period_s > 0, "min_rubato_period_s", "must be positive")
        check(
            self.max_rubato_period_s >= self.min_rubato_period_s,
            "max_rubato_period_s",
            "must be >= min_rubato_period_s",
        )
        check(0 < self.min_legato <= 1, "min_legato", "must be in (0, 1]")
        check(0 <= self.velocity_jitter < 1, "velocity_jitter", "must be in [0, 1)")
        check(self.min_rt60_s > 0, "min_rt60_s", "must be positive")
        check(self.max_rt60_s >= self.min_rt60_s, "max_rt60_s", "must be >= min_rt60_s")
        check(0 <= self.max_reverb_wet <= 1, "max_reverb_wet", "must be in [0, 1]")
        check(self.max_snr_db >= self.min_snr_db, "max_snr_db", "must be >= min_snr_db")
        check(self.max_peak_db < 0, "max_peak_db", "must be below 0 dBFS (no clipping)")
        check(self.min_peak_db <= self.max_peak_db, "min_peak_db", "must be <= max_peak_db")
        check(self.end_fade_s >= 0, "end_fade_s", "must be >= 0")
        check(self.synth_gain > 0, "synth_gain", "must be positive")
        check(self.n_jobs >= 1, "n_jobs", "must be >= 1")


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(list(key))


def select_candidates(
    config: RenderedCorpusConfig, seed: int
) -> tuple[list[Candidate], tuple[Candidate, ...]]:
    """The order in which pieces become works, and the filler pieces for preludes and outros.

    The order is a seeded round robin over the corpus collections; the fillers are a seeded
    uniform sample of all candidates (so mostly folk tunes and masses: the one-piece collections
    stay works), left out of the order: no recording's prelude or outro is a work of the
    collection.
    """
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    candidates = list_candidates(config.max_score_kb)
    picked = _rng(seed, FILLER_STREAM).choice(len(candidates), config.n_fillers, replace=False)
    fillers = tuple(candidates[i] for i in sorted(picked))
    reserved = set(fillers)
    order = interleave_collections(candidates, _rng(seed, ORDER_STREAM))
    return [c for c in order if c not in reserved], fillers


def work_id_of(candidate: Candidate) -> str:
    """A readable id from the corpus name: `essenFolksong/altdeu10.abc#5` -> `rc_essenFolksong_altdeu10_5`."""
    stem = candidate.path.rsplit(".", maxsplit=1)[0]
    name = stem if candidate.number is None else f"{stem}_{candidate.number}"
    return WORK_PREFIX + re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_")


@dataclass(frozen=True)
class WorkPlan:
    """A work: which piece, which excerpt of it, at what tempo, in how many versions."""

    work_idx: int
    candidate: Candidate
    piece: Piece  # the excerpt, from 0
    excerpt_start_q: float
    quarter_bpm: float  # the piece's own tempo (its score's mark, else drawn)
    n_versions: int

    @property
    def work_id(self) -> str:
        return work_id_of(self.candidate)


def _own_tempo(piece: Piece, config: RenderedCorpusConfig, rng: np.random.Generator) -> float:
    """Quarter notes a minute: the score's tempo mark, else a beat rate drawn for the piece."""
    if piece.quarter_bpm is not None:
        return piece.quarter_bpm
    return float(rng.uniform(config.min_bpm, config.max_bpm)) * piece.beat_q


def plan_work(
    candidate: Candidate, work_idx: int, config: RenderedCorpusConfig, seed: int
) -> WorkPlan:
    """Parse the piece and choose its excerpt; PieceError when it cannot be a work."""
    piece = load_piece(candidate)
    rng = _rng(seed, work_idx, WORK_STREAM)
    quarter_bpm = _own_tempo(piece, config, rng)
    quarter_s = 60.0 / quarter_bpm
    if piece.length_q * quarter_s < config.min_excerpt_s:
        raise PieceError(
            f"{candidate.name}: {piece.length_q * quarter_s:.1f} s long, "
            f"shorter than min_excerpt_s={config.min_excerpt_s}"
        )
    min_q, max_q = config.min_excerpt_s / quarter_s, config.max_excerpt_s / quarter_s
    start, end = 0.0, piece.length_q
    if piece.length_q > max_q:
        bars = piece.bar_offsets
        if rng.random() >= config.p_excerpt_from_start:  # else at the top, where themes are
            start = float(rng.choice(bars[bars <= piece.length_q - max_q]))
        ends = bars[(bars >= start + min_q) & (bars <= start + max_q)]
        end = float(ends.max()) if len(ends) else start + max_q
    cut = excerpt(piece, start, end)
    if cut.n_notes < _MIN_NOTES:
        raise PieceError(f"{candidate.name}: only {cut.n_notes} notes in bars {start}-{end}")
    n_versions = int(rng.integers(config.min_versions, config.max_versions + 1))
    return WorkPlan(work_idx, candidate, cut, start, quarter_bpm, n_versions)


@dataclass(frozen=True)
class VersionPlan:
    """Everything that decides one version's audio apart from its onset errors."""

    version_idx: int
    band: Band
    cover: Cover  # what of the work it plays, and how (see render/cover.py)
    tempo: float
    key_shift: int
    timing: Timing
    prelude_n: int  # samples of other music before the work
    shared_n: int
    outro_n: int
    prelude_filler: int  # index into the fillers, where the search for a usable one starts
    outro_filler: int
    rt60_s: float | None  # None: a dry recording
    reverb_wet: float
    snr_db: float
    noise: str
    peak_db: float


def _section_lengths(
    config: RenderedCorpusConfig, rng: np.random.Generator
) -> tuple[int, int, int]:
    """Samples of prelude, work and outro; they add up to a `min_duration_s`-`max_duration_s`
    whole of which the work is `min_shared_fraction` or more."""
    sr = config.sample_rate
    total_n = round(rng.uniform(config.min_duration_s, config.max_duration_s) * sr)
    prelude_s = rng.uniform(0.0, config.max_prelude_s) if rng.random() < config.p_prelude else 0.0
    outro_s = rng.uniform(0.0, config.max_outro_s) if rng.random() < config.p_outro else 0.0
    room = (1.0 - config.min_shared_fraction) * total_n
    scale = min(1.0, room / max((prelude_s + outro_s) * sr, 1.0))
    prelude_n, outro_n = math.floor(prelude_s * sr * scale), math.floor(outro_s * sr * scale)
    return prelude_n, total_n - prelude_n - outro_n, outro_n


def plan_version(
    work: WorkPlan, version_idx: int, config: RenderedCorpusConfig, rng: np.random.Generator
) -> VersionPlan:
    """Draw a version's choices from `rng` (the version's own stream), in a fixed order."""
    band = pick_band(str(rng.choice(config.ensembles)), rng)
    cover = draw_cover(work.piece, config.cover, np.random.default_rng(int(rng.integers(2**63))))
    tempo = float(math.exp(rng.uniform(math.log(config.min_tempo), math.log(config.max_tempo))))
    key_shift = int(rng.integers(-config.max_key_shift, config.max_key_shift + 1))
    timing = Timing(
        quarter_s=60.0 / (work.quarter_bpm * tempo),
        rubato_depth=float(rng.uniform(0.0, config.max_rubato)),
        rubato_period_s=float(rng.uniform(config.min_rubato_period_s, config.max_rubato_period_s)),
        rubato_phase=float(rng.uniform(0.0, 2.0 * math.pi)),
        jitter_s=config.timing_jitter_s,
        legato=float(rng.uniform(config.min_legato, 1.0)),
    )
    prelude_n, shared_n, outro_n = _section_lengths(config, rng)
    fillers = rng.integers(config.n_fillers, size=2)
    reverb = rng.random() < config.p_reverb
    rt60_s = float(rng.uniform(config.min_rt60_s, config.max_rt60_s))
    reverb_wet = float(rng.uniform(0.0, config.max_reverb_wet))
    return VersionPlan(
        version_idx=version_idx,
        band=band,
        cover=cover,
        tempo=tempo,
        key_shift=key_shift,
        timing=timing,
        prelude_n=prelude_n,
        shared_n=shared_n,
        outro_n=outro_n,
        prelude_filler=int(fillers[0]),
        outro_filler=int(fillers[1]),
        rt60_s=rt60_s if reverb else None,
        reverb_wet=reverb_wet if reverb else 0.0,
        snr_db=float(rng.uniform(config.min_snr_db, config.max_snr_db)),
        noise=NOISE_COLOURS[int(rng.random() < config.p_pink_noise)],
        peak_db=float(rng.uniform(config.min_peak_db, config.max_peak_db)),
    )


@functools.lru_cache(maxsize=256)  # a pretraining corpus draws from a few hundred
def _filler_piece(candidate: Candidate) -> Piece | None:
    """A filler piece, parsed once per process; None when it cannot be used."""
    try:
        piece = load_piece(candidate)
    except PieceError as error:
        logger.warning("rendered corpus: filler %s skipped: %s", candidate.name, error)
        return None
    return piece if piece.n_notes >= _MIN_NOTES else None


def _find_filler(fillers: tuple[Candidate, ...], start: int) -> tuple[Candidate, Piece]:
    """The first usable filler from index `start` on, wrapping around."""
    for k in range(len(fillers)):
        candidate = fillers[(start + k) % len(fillers)]
        piece = _filler_piece(candidate)
        if piece is not None:
            return candidate, piece
    raise ValueError(f"none of the {len(fillers)} filler pieces could be parsed")


def cover_voices(
    cover: Cover,
    band: Band,
    key_shift: int,
    config: RenderedCorpusConfig,
    rng: np.random.Generator,
) -> list[Voice]:
    """The voices of one pass through `cover.score` as `band` plays it, `key_shift` semitones
    up, in quarter notes (each `Voice` names its role: melody, double, bass, chords, inner,
    drums)."""
    voices = arrange(cover.score, band, cover.arrangement, cover.texture, config.p_octave_move, rng)
    return transpose(voices, key_shift)


def _section(
    cover: Cover,
    band: Band,
    key_shift: int,
    timing: Timing,
    length_s: float,
    config: RenderedCorpusConfig,
    rng: np.random.Generator,
) -> MidiNotes:
    """`length_s` seconds of `cover` played by `band` (repeated from its start as needed)."""
    voices = cover_voices(cover, band, key_shift, config, rng)
    length_q = cover.score.length_q
    slowest_s = length_q * timing.quarter_s * (1.0 - timing.rubato_depth)
    voices = repeat(voices, length_q, math.ceil(length_s / slowest_s) + 1)
    channels = assign_channels(band.programs)
    return perform(voices, timing, length_s, config.velocity_jitter, channels, rng)


def render_version(
    work: WorkPlan,
    plan: VersionPlan,
    fillers: tuple[Candidate, ...],
    config: RenderedCorpusConfig,
    soundfont: Path,
    program: str,
    rng: np.random.Generator,
    workdir: Path,
) -> tuple[np.ndarray, dict[str, str]]:
    """`(S,)` float32 audio of one version, and the corpus names of its prelude and outro."""
    sr = config.sample_rate
    parts, used = [], {"prelude_piece": "", "outro_piece": ""}
    position_s = 0.0
    layout = (
        ("prelude", plan.prelude_n, plan.prelude_filler),
        ("work", plan.shared_n, None),
        ("outro", plan.outro_n, plan.outro_filler),
    )
    for name, n_samples, filler in layout:
        length_s = n_samples / sr
        if n_samples > 0 and filler is None:
            notes = _section(
                plan.cover, plan.band, plan.key_shift, plan.timing, length_s, config, rng
            )
            parts.append(notes.shifted(position_s))
        elif n_samples > 0:  # other music: its own tempo and key, the same band
            candidate, piece = _find_filler(fillers, filler)
            timing = Timing(
                quarter_s=60.0 / (_own_tempo(piece, config, rng) * plan.tempo),
                rubato_depth=plan.timing.rubato_depth,
                rubato_period_s=plan.timing.rubato_period_s,
                rubato_phase=plan.timing.rubato_phase,
                jitter_s=plan.timing.jitter_s,
                legato=plan.timing.legato,
            )
            key_shift = int(rng.integers(-config.max_key_shift, config.max_key_shift + 1))
            notes = _section(as_written(piece), plan.band, key_shift, timing, length_s, config, rng)
            parts.append(notes.shifted(position_s))
            used[f"{name}_piece"] = candidate.name
        position_s += length_s
    midi_path = workdir / f"v{plan.version_idx:02d}.mid"
    write_midi(MidiNotes.concat(parts), midi_path)
    total_n = plan.prelude_n + plan.shared_n + plan.outro_n
    audio = render_midi(midi_path, soundfont, sr, program, config.synth_gain)[:total_n]
    audio = np.pad(audio, (0, total_n - len(audio)))
    if plan.rt60_s is not None:
        audio = add_reverb(audio, room_impulse(plan.rt60_s, sr, rng), plan.reverb_wet)
    audio = finish_recording(
        audio, sr, config.end_fade_s, plan.snr_db, plan.noise, plan.peak_db, rng
    )
    return audio, used


# The ground truth's columns, in order: the ids first, then how each version was made.
GROUND_TRUTH_COLUMNS = (
    "perf_id", "work_id", "true_offset_s", "duration_s", "sample_rate",
    "piece", "composer", "corpus_collection", "n_parts", "excerpt_start_q", "excerpt_q",
    "ensemble", "programs", "arrangement", "var_structure", "var_melody", "var_harmony",
    "var_texture", "tempo", "bpm", "key_shift",
    "prelude_s", "shared_s", "outro_s", "prelude_piece", "outro_piece",
    "rubato", "reverb_rt60_s", "reverb_wet", "snr_db", "noise", "peak_db",
)  # fmt: skip


def _row(work: WorkPlan, plan: VersionPlan, used: dict[str, str], sr: int) -> dict[str, Any]:
    """The ground-truth row of a version."""
    piece = work.piece
    return {
        "perf_id": f"{work.work_id}_v{plan.version_idx:02d}",
        "work_id": work.work_id,
        "true_offset_s": plan.prelude_n / sr,
        "duration_s": (plan.prelude_n + plan.shared_n + plan.outro_n) / sr,
        "sample_rate": sr,
        "piece": work.candidate.name,
        "composer": piece.composer,
        "corpus_collection": work.candidate.collection,
        "n_parts": len(piece.parts),
        "excerpt_start_q": work.excerpt_start_q,
        "excerpt_q": piece.length_q,
        "ensemble": plan.band.ensemble,
        "programs": ",".join(str(p) for p in plan.band.programs),
        "arrangement": plan.cover.arrangement,
        **plan.cover.columns(),
        "tempo": plan.tempo,
        "bpm": work.quarter_bpm * plan.tempo,
        "key_shift": plan.key_shift,
        "prelude_s": plan.prelude_n / sr,
        "shared_s": plan.shared_n / sr,
        "outro_s": plan.outro_n / sr,
        "prelude_piece": used["prelude_piece"],
        "outro_piece": used["outro_piece"],
        "rubato": plan.timing.rubato_depth,
        "reverb_rt60_s": plan.rt60_s if plan.rt60_s is not None else 0.0,
        "reverb_wet": plan.reverb_wet,
        "snr_db": plan.snr_db,
        "noise": plan.noise,
        "peak_db": plan.peak_db,
    }


def render_work_audio(
    candidate: Candidate,
    work_idx: int,
    fillers: tuple[Candidate, ...],
    config: RenderedCorpusConfig,
    seed: int,
    soundfont: Path,
    program: str,
) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    """One work's versions in memory: their table rows (without `path`) and `(S,)` float32 audio.

    PieceError when the piece cannot be a work.
    """
    work = plan_work(candidate, work_idx, config, seed)
    rows, audio = [], []
    with tempfile.TemporaryDirectory(prefix="coverhunter-render-") as workdir:
        for version_idx in range(work.n_versions):
            rng = _rng(seed, work_idx, version_idx)
            plan = plan_version(work, version_idx, config, rng)
            samples, used = render_version(
                work, plan, fillers, config, soundfont, program, rng, Path(workdir)
            )
            rows.append(_row(work, plan, used, config.sample_rate))
            audio.append(samples)
    return rows, audio


def render_work(
    candidate: Candidate,
    work_idx: int,
    fillers: tuple[Candidate, ...],
    config: RenderedCorpusConfig,
    seed: int,
    root: Path,
    soundfont: Path,
    program: str,
) -> dict[str, Any]:
    """Render one work's versions into `root/<work_id>/`.

    Returns {"work_id", "rows", "files": {perf_id: {"bytes", "sha256"}}}, or {"skipped": reason}
    when the piece cannot be a work (nothing is written then).
    """
    try:
        rows, audio = render_work_audio(
            candidate, work_idx, fillers, config, seed, soundfont, program
        )
    except PieceError as error:
        return {"skipped": str(error)}
    work_id = work_id_of(candidate)
    shutil.rmtree(root / work_id, ignore_errors=True)
    files = {}
    for row, samples in zip(rows, audio, strict=True):
        data = encode_flac(samples, config.sample_rate)
        write_bytes_atomically(recording_path(root, work_id, row["perf_id"], "flac"), data)
        files[row["perf_id"]] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return {"work_id": work_id, "rank": work_idx, "rows": rows, "files": files}


def render_request(config: RenderedCorpusConfig, seed: int, soundfont: Path, program: str) -> dict:
    """What decides the audio of a work (its place aside): n_works and n_jobs do not."""
    settings = asdict(config)
    del settings["n_jobs"], settings["n_works"], settings["soundfont"], settings["fluidsynth"]
    settings["ensembles"] = list(settings["ensembles"])
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "settings": settings,
        "soundfont": {"path": str(soundfont), "bytes": soundfont.stat().st_size},
        "fluidsynth": fluidsynth_version(program),
        "music21": music21.__version__,
    }


def _intact(record: dict, root: Path) -> bool:
    """A work recorded earlier whose files are all still there, with their sizes."""
    for perf_id, info in record["files"].items():
        path = recording_path(root, record["work_id"], perf_id, "flac")
        if not path.is_file() or path.stat().st_size != info["bytes"]:
            return False
    return True


class WorkScheduler:
    """Takes pieces in order until `n_works` are works: the first `n_works` usable pieces.

    A piece is only started while the works done plus those under way fall short of `n_works`,
    so which pieces become works depends on the order alone, never on timing or `n_jobs`.
    `reuse(rank, candidate)` gives the record of a work done by an earlier run (None: render it);
    `skipped` maps the names of pieces known to be unusable to the reason.
    """

    def __init__(
        self,
        order: list[Candidate],
        n_works: int,
        reuse: Callable[[int, Candidate], dict | None],
        skipped: dict[str, str],
    ):
        self.order, self.n_works, self.reuse, self.skipped = order, n_works, reuse, skipped
        self.done: dict[int, dict] = {}  # rank -> work record
        self.next_rank = 0

    def next_to_render(self, in_flight: int) -> tuple[int, Candidate] | None:
        """The next piece that needs rendering, reusing recorded works on the way; or None."""
        while len(self.done) + in_flight < self.n_works and self.next_rank < len(self.order):
            rank, candidate = self.next_rank, self.order[self.next_rank]
            self.next_rank += 1
            record = self.reuse(rank, candidate)
            if record is not None:
                self.done[rank] = record
            elif candidate.name not in self.skipped:
                return rank, candidate
        return None

    def finish(self, rank: int, candidate: Candidate, result: dict) -> None:
        if "skipped" in result:
            logger.warning("rendered corpus: skipped %s", result["skipped"])  # names the piece
            self.skipped[candidate.name] = result["skipped"]
        else:
            self.done[rank] = result


def render_in_order(
    scheduler: WorkScheduler,
    task: Callable[..., dict],
    args: tuple,
    n_jobs: int,
    on_finished: Callable[[int, Candidate, dict], None] | None = None,
    initializer: Callable[[], None] | None = None,
) -> None:
    """Run `task(candidate, rank, *args)` for the scheduler's pieces until it has `n_works`.

    In `n_jobs` spawned processes (in this one when 1); each result goes to `scheduler.finish`,
    then to `on_finished(rank, candidate, result)`, in the order the results come in.
    """

    def finished(job: tuple[int, Candidate], result: dict) -> None:
        scheduler.finish(*job, result)
        if on_finished is not None:
            on_finished(*job, result)

    if n_jobs == 1:
        while (job := scheduler.next_to_render(0)) is not None:
            finished(job, task(job[1], job[0], *args))
        return
    # Spawned, not forked: a fork of a threaded parent (Kedro, MLflow) can deadlock.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=n_jobs, mp_context=context, initializer=initializer
    ) as executor:
        running: dict[Future, tuple[int, Candidate]] = {}
        while True:
            while (
                len(running) < n_jobs
                and (job := scheduler.next_to_render(len(running))) is not None
            ):
                running[executor.submit(task, job[1], job[0], *args)] = job
            if not running:
                return
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                finished(running.pop(future), future.result())


def _log_tenths(scheduler: WorkScheduler) -> Callable[[int, Candidate, dict], None]:
    """Logs every tenth of `n_works` rendered."""
    reported = [len(scheduler.done) * 10 // scheduler.n_works]

    def report(rank: int, candidate: Candidate, result: dict) -> None:
        tenth = len(scheduler.done) * 10 // scheduler.n_works
        if tenth > reported[0]:
            reported[0] = tenth
            logger.info("rendered corpus: %d/%d works", len(scheduler.done), scheduler.n_works)

    return report


def ground_truth(records: list[dict]) -> pd.DataFrame:
    """One row per performance, its `GROUND_TRUTH_COLUMNS`, sorted by perf_id."""
    rows = [row for record in records for row in record["rows"]]
    return pd.DataFrame(rows, columns=list(GROUND_TRUTH_COLUMNS)).sort_values(
        "perf_id", ignore_index=True
    )


def render_corpus_collection(root: Path, config: RenderedCorpusConfig, seed: int) -> pd.DataFrame:
    """Render (or find already rendered) the corpus collection under `root`, in the `folder`
    layout (`root/<work_id>/<perf_id>.flac`); its ground truth.

    Columns: perf_id, work_id, true_offset_s, duration_s, sample_rate, and how each version was
    made (piece, ensemble, arrangement, var_structure, var_melody, var_harmony, var_texture,
    tempo, key_shift, snr_db, ...).
    `root` belongs to the generator: `rc_*` folders of works not in the collection are removed.
    ValueError when FluidSynth or a soundfont is missing (saying how to install them) or when the
    corpus runs out of usable pieces.
    """
    program = find_fluidsynth(config.fluidsynth)
    soundfont = find_soundfont(config.soundfont)
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    order, fillers = select_candidates(config, seed)
    request = render_request(config, seed, soundfont, program)
    record = read_generator_record(root / RECORD_FILE, "rendered corpus")
    same = record is not None and record.get("request") == request
    known = {r["work_id"]: r for r in record.get("works", [])} if same else {}
    skipped = dict(record.get("skipped", {})) if same else {}

    def reuse(rank: int, candidate: Candidate) -> dict | None:
        record = known.get(work_id_of(candidate))
        ok = record is not None and record.get("rank") == rank and _intact(record, root)
        return record if ok else None

    scheduler = WorkScheduler(order, config.n_works, reuse, skipped)
    started = time.perf_counter()
    args = (fillers, config, seed, root, soundfont, program)
    render_in_order(scheduler, render_work, args, config.n_jobs, _log_tenths(scheduler))
    if len(scheduler.done) < config.n_works:
        raise ValueError(
            f"only {len(scheduler.done)} of music21's corpus pieces could be rendered as works; "
            f"n_works={config.n_works} is too many"
        )
    records = [scheduler.done[rank] for rank in sorted(scheduler.done)]
    rendered = [r for r in records if known.get(r["work_id"]) is not r]
    if rendered:
        logger.info(
            "rendered corpus: rendered %d of %d works into %s in %.1f s",
            len(rendered), len(records), root, time.perf_counter() - started,
        )  # fmt: skip
    wanted = {record["work_id"] for record in records}
    for folder in root.iterdir():
        if folder.is_dir() and _WORK_DIR.match(folder.name) and folder.name not in wanted:
            shutil.rmtree(folder)
    files = {perf_id: info for record in records for perf_id, info in record["files"].items()}
    content = {
        "request": request,
        "config": {**asdict(config), "ensembles": list(config.ensembles)},
        "seed": seed,
        "fingerprint": fingerprint(files),
        "works": records,
        "skipped": scheduler.skipped,
    }
    if record != content:
        write_generator_record(root / RECORD_FILE, content)
    return ground_truth(records)
