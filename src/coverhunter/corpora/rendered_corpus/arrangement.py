"""How a version arranges a piece: which band plays it, which voices, in which octaves.

Everything here is in quarter notes and MIDI pitches; `performance.py` puts it in seconds.

An ensemble names the General-MIDI programs its melody, inner voices and bass may take; a version
draws one program per role (a `Band`). What is played:
- a piece of several parts, its written voices (texture `parts`), by arrangement: `full`,
  `reduced` (some inner voices left out), `melody_bass`, `melody_only`, `doubled` (everything,
  the melody doubled an octave up and the bass an octave down);
- one melody (a tune, or the top voice of a piece whose other voices a cover replaced) with its
  chords, accompanied in one of `texture.TEXTURES`; arrangement `full`, or `doubled` (the melody
  doubled an octave up). The chords are voiced around a centre an octave under the melody, moved
  a few semitones per version, close or open.
Each kept voice but the melody may move an octave (the melody's octave is a cover's choice, see
`cover.py`). Bands with a drum kit add a beat that follows the bars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coverhunter.corpora.rendered_corpus.corpus_pieces import Piece
from coverhunter.corpora.rendered_corpus.texture import TEXTURES, accompany


@dataclass(frozen=True)
class Ensemble:
    """General-MIDI programs (0-127) each role may take; `drums` adds a kit."""

    melody: tuple[int, ...]
    inner: tuple[int, ...]
    bass: tuple[int, ...]
    drums: bool = False


ENSEMBLES = {
    "piano": Ensemble(melody=(0, 1), inner=(0, 1), bass=(0, 1)),
    "strings": Ensemble(melody=(40,), inner=(41, 48, 49), bass=(42, 43)),
    "organ": Ensemble(melody=(19, 16, 20), inner=(19, 16), bass=(19, 16)),
    "guitar_band": Ensemble(melody=(27, 29, 26), inner=(25, 24), bass=(33, 34), drums=True),
    "brass": Ensemble(melody=(56, 60), inner=(60, 57, 61), bass=(58, 57)),
    "synth_pop": Ensemble(melody=(80, 81, 87), inner=(88, 89, 90), bass=(38, 39), drums=True),
    "woodwinds": Ensemble(melody=(73, 68), inner=(71, 69), bass=(70,)),
    "choir": Ensemble(melody=(52, 53), inner=(52, 53), bass=(52,)),
    "jazz_combo": Ensemble(melody=(11, 65, 66), inner=(0, 4), bass=(32,), drums=True),
}
# Arrangements of the written parts and how often a version takes each; a melody with a
# generated accompaniment is `full` or `doubled`.
PART_ARRANGEMENTS = {"full": 0.35, "reduced": 0.2, "melody_bass": 0.15, "melody_only": 0.1, "doubled": 0.2}  # fmt: skip
ARRANGEMENTS = tuple(PART_ARRANGEMENTS)
MELODY_ARRANGEMENTS = ("full", "doubled")

# Levels (MIDI velocity) of the roles: the melody leads, the accompaniment stays behind it.
_VELOCITY = {"melody": 100.0, "double": 72.0, "inner": 72.0, "bass": 84.0, "chords": 64.0, "drums": 80.0}  # fmt: skip
_LOWEST, _HIGHEST = 24, 103  # MIDI range the parts are folded into (C1 to G7)
_DRUM_KICK, _DRUM_SNARE, _DRUM_HAT = 36, 38, 42  # General-MIDI percussion keys
_CHORD_VOICING_SPREAD = 3  # semitones the chords' centre moves either way between versions
# An excerpt whose melody rests throughout (a filler's bars of rests) still gets its chords,
# around the melody's usual register
_RESTING_MELODY_PITCH = 72
_P_OPEN_VOICING = 0.3  # chance a version voices its chords open rather than close
_P_KEEP_INNER = 0.5  # chance an inner voice stays in a `reduced` arrangement


@dataclass(frozen=True)
class Band:
    """The programs one version plays with, the same in its prelude, its work and its outro."""

    ensemble: str
    melody: int
    inner: tuple[int, ...]  # cycled over the inner parts
    bass: int
    drums: bool

    @property
    def programs(self) -> tuple[int, ...]:
        return (self.melody, *self.inner, self.bass)


@dataclass(frozen=True)
class Voice:
    """Notes `(N, 3)` (onset, duration in quarter notes, MIDI pitch) played on one program."""

    notes: np.ndarray
    program: int
    velocity: float
    drums: bool = False
    role: str = ""  # melody, double (the melody an octave up), inner, bass, chords or drums


def pick_band(ensemble: str, rng: np.random.Generator) -> Band:
    """One program per role of `ensemble`, drawn by `rng`."""
    if ensemble not in ENSEMBLES:
        raise ValueError(f"ensemble {ensemble!r} is not one of {sorted(ENSEMBLES)}")
    spec = ENSEMBLES[ensemble]
    return Band(
        ensemble=ensemble,
        melody=int(rng.choice(spec.melody)),
        inner=tuple(int(p) for p in rng.permutation(spec.inner)),
        bass=int(rng.choice(spec.bass)),
        drums=spec.drums,
    )


def pick_arrangement(rng: np.random.Generator) -> str:
    """An arrangement of a piece's written parts, drawn by the weights of `PART_ARRANGEMENTS`."""
    names = list(PART_ARRANGEMENTS)
    weights = np.array([PART_ARRANGEMENTS[name] for name in names])
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def fold_octaves(pitches: np.ndarray, lowest: int = _LOWEST, highest: int = _HIGHEST) -> np.ndarray:
    """Pitches moved by whole octaves into `[lowest, highest]` (a range of an octave or more)."""
    if highest - lowest < 11:
        raise ValueError(f"range [{lowest}, {highest}] is narrower than an octave")
    out = pitches.copy()
    while (low := out < lowest).any():
        out[low] += 12
    while (high := out > highest).any():
        out[high] -= 12
    return out


def drum_pattern(piece: Piece) -> np.ndarray:
    """`(N, 3)` kit notes over the piece's bars: kick on strong beats, snare on the others,
    hi-hat on each half beat (third of a compound beat)."""
    ends = [*piece.bar_offsets[1:], piece.length_q]
    compound = abs(piece.beat_q - 1.5) < 1e-9
    step = piece.beat_q / (3 if compound else 2)
    rows = []
    for start, end in zip(piece.bar_offsets, ends, strict=True):
        for beat in range(piece.beats_per_bar):
            onset = start + beat * piece.beat_q
            if onset >= end:
                break
            kick = beat % 2 == 0 and not (piece.beats_per_bar == 3 and beat == 2)
            rows.append((onset, step, _DRUM_KICK if kick else _DRUM_SNARE))
        rows.extend((float(t), step, _DRUM_HAT) for t in np.arange(start, end - 1e-9, step))
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def _shift(notes: np.ndarray, semitones: int) -> np.ndarray:
    out = notes.copy()
    out[:, 2] += semitones
    return out


def _part_voices(piece: Piece, band: Band, arrangement: str, rng: np.random.Generator) -> list:
    """(notes, program, role) of a piece of several parts, highest part the melody."""
    melody, *inner, bass = piece.parts
    if arrangement == "reduced" and inner:
        keep = rng.random(len(inner)) < _P_KEEP_INNER
        keep[rng.integers(len(inner))] = False  # at least one inner voice is left out
        inner = [part for part, kept in zip(inner, keep, strict=True) if kept]
    if arrangement == "melody_only":
        return [(melody, band.melody, "melody")]
    voices = [(melody, band.melody, "melody"), (bass, band.bass, "bass")]
    if arrangement != "melody_bass":
        voices += [(p, band.inner[i % len(band.inner)], "inner") for i, p in enumerate(inner)]
    if arrangement == "doubled":
        voices += [
            (_shift(melody, 12), band.inner[0], "double"),
            (_shift(bass, -12), band.bass, "bass"),
        ]
    return voices


def _melody_voices(
    piece: Piece, band: Band, arrangement: str, texture: str, rng: np.random.Generator
) -> list:
    """(notes, program, role) of a single melody accompanied in `texture` over its chords."""
    melody = piece.parts[0]
    voices = [(melody, band.melody, "melody")]
    # Chords an octave under the melody; the voicing (which chord note is on top) varies.
    spread = _CHORD_VOICING_SPREAD
    sung = float(np.median(melody[:, 2])) if len(melody) else _RESTING_MELODY_PITCH
    centre = int(sung) - 12 + int(rng.integers(-spread, spread + 1))
    open_voicing = bool(rng.random() < _P_OPEN_VOICING)
    metre = (piece.bar_offsets, piece.length_q, piece.beat_q, piece.beats_per_bar, piece.tonic)
    parts = accompany(piece.chords, texture, melody, *metre, centre, open_voicing)
    programs = {"bass": band.bass, "chords": band.inner[0], "inner": band.inner[-1]}
    voices += [(notes, programs[role], role) for notes, role in parts]
    if arrangement == "doubled":
        voices.append((_shift(melody, 12), band.inner[-1], "double"))
    return voices


def arrange(
    piece: Piece,
    band: Band,
    arrangement: str,
    texture: str,
    p_octave_move: float,
    rng: np.random.Generator,
) -> list[Voice]:
    """The voices a version plays of `piece`; each but the melody moves an octave with
    `p_octave_move`.

    A piece of several parts plays its written parts by `arrangement` (one of `ARRANGEMENTS`;
    `texture` is then "parts", or "melody_only" with that arrangement); a single melody is
    accompanied in `texture` (one of `TEXTURES`), `arrangement` one of `MELODY_ARRANGEMENTS`.
    """
    if len(piece.parts) > 1:
        if arrangement not in ARRANGEMENTS or texture not in ("parts", "melody_only"):
            raise ValueError(
                f"written parts play arrangement {arrangement!r} in texture {texture!r}: "
                f"need one of {list(ARRANGEMENTS)} in texture 'parts' or 'melody_only'"
            )
        build = _part_voices(piece, band, arrangement, rng)
    else:
        if arrangement not in MELODY_ARRANGEMENTS or texture not in TEXTURES:
            raise ValueError(
                f"a melody plays arrangement {arrangement!r} in texture {texture!r}: need one "
                f"of {list(MELODY_ARRANGEMENTS)} in one of {list(TEXTURES)}"
            )
        build = _melody_voices(piece, band, arrangement, texture, rng)
    voices = []
    for notes, program, role in build:
        if not len(notes):
            continue
        move = 0
        if role != "melody" and rng.random() < p_octave_move:
            move = int(rng.choice((-12, 12)))
        pitches = fold_octaves(notes[:, 2] + move)
        notes = np.column_stack([notes[:, :2], pitches])
        voices.append(Voice(notes, program, _VELOCITY[role], role=role))
    if band.drums:
        voices.append(Voice(drum_pattern(piece), 0, _VELOCITY["drums"], drums=True, role="drums"))
    return voices


def transpose(voices: list[Voice], semitones: int) -> list[Voice]:
    """Every pitched voice moved by `semitones` (folded back into range); drums stay."""
    out = []
    for voice in voices:
        if voice.drums:
            out.append(voice)
            continue
        notes = voice.notes.copy()
        notes[:, 2] = fold_octaves(notes[:, 2] + semitones)
        out.append(Voice(notes, voice.program, voice.velocity, role=voice.role))
    return out


def repeat(voices: list[Voice], length_q: float, n_times: int) -> list[Voice]:
    """The voices played `n_times` in a row, each time `length_q` quarter notes long."""
    out = []
    for voice in voices:
        shifts = np.repeat(np.arange(n_times) * length_q, len(voice.notes))
        notes = np.tile(voice.notes, (n_times, 1))
        notes[:, 0] += shifts
        out.append(Voice(notes, voice.program, voice.velocity, voice.drums, voice.role))
    return out
