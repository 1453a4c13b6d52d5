"""One version of a work: what it draws from its own stream (band, cover, tempo, key, timing,
sections, fillers, room, noise, loudness), its audio (notes -> MIDI file -> FluidSynth -> room,
noise, loudness) and its ground-truth row; a work's versions, rendered in memory."""

from __future__ import annotations

import functools
import logging
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from coverhunter.corpora.recording import NOISE_COLOURS, finish_recording
from coverhunter.corpora.rendered_corpus.arrangement import (
    Band,
    Voice,
    arrange,
    pick_band,
    repeat,
    transpose,
)
from coverhunter.corpora.rendered_corpus.config import RenderedCorpusConfig
from coverhunter.corpora.rendered_corpus.corpus_pieces import (
    Candidate,
    Piece,
    PieceError,
    load_piece,
)
from coverhunter.corpora.rendered_corpus.cover import Cover, as_written, draw_cover
from coverhunter.corpora.rendered_corpus.fluidsynth import render_midi
from coverhunter.corpora.rendered_corpus.midi_file import MidiNotes, write_midi
from coverhunter.corpora.rendered_corpus.performance import Timing, assign_channels, perform
from coverhunter.corpora.rendered_corpus.room import add_reverb, room_impulse
from coverhunter.corpora.rendered_corpus.works import (
    MIN_NOTES,
    WorkPlan,
    own_tempo,
    plan_work,
    random_stream,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VersionPlan:
    """Everything that decides one version's audio apart from its onset errors."""

    version_idx: int
    band: Band
    cover: Cover  # what of the work it plays, and how (see cover.py)
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
    return piece if piece.n_notes >= MIN_NOTES else None


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
                quarter_s=60.0 / (own_tempo(piece, config, rng) * plan.tempo),
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
            rng = random_stream(seed, work_idx, version_idx)
            plan = plan_version(work, version_idx, config, rng)
            samples, used = render_version(
                work, plan, fillers, config, soundfont, program, rng, Path(workdir)
            )
            rows.append(_row(work, plan, used, config.sample_rate))
            audio.append(samples)
    return rows, audio
