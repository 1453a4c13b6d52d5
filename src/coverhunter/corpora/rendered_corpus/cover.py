"""What makes a version a cover: the same melody and form, read, harmonised and accompanied anew.

Real covers keep the melody and mostly the form of a song and change the rest. Each version
draws its own (`draw_cover`, from its own stream, with the probabilities of `CoverSettings`):
- structure: a section played twice (`section_repeated`), a section that repeats an earlier one
  left out (`repeat_dropped`), or else a section other than the first left out
  (`section_dropped`). Sections are phrases of 4 bars (2 in excerpts under 8 bars); the first
  section always opens the version, so the work still starts where it did.
- melody (`MELODY_CHANGES`): `ornaments` (a grace note, a turn or a short trill on some notes of
  a beat or longer, with the scale's neighbours), `passing_notes` (some thirds filled with the
  scale step between), `displacement` (some notes on a beat anticipated or delayed by an eighth),
  `octave` (the whole line an octave up or down).
- harmony and texture: a piece of several parts keeps its written voices (texture `parts`, or
  `melody_only`, arrangement drawn by `arrangement.PART_ARRANGEMENTS`) or, with `p_new_voices`,
  plays its top voice over a generated accompaniment on a progression fitted to it (`fitted`). A
  melody (a tune, or such a top voice) plays its own chords (the tune's symbols or best fit) or,
  with `p_new_harmony`, re-drawn ones (`harmony.reharmonise`), accompanied in one of
  `texture.TEXTURES` (weights `textures`), the melody doubled an octave up with `p_doubled`.
Drawing the written voices of a piece with the arrangement `full` gives the work as written.

A version's choices are recorded as four string columns (`Cover.columns`):
- `var_structure`: "none", "section_repeated", "repeat_dropped" or "section_dropped";
- `var_melody`: the `MELODY_CHANGES` that altered the melody, comma-separated, "none" if none did;
- `var_harmony`: "fitted" and the `harmony.HARMONY_CHANGES` that altered the chords, comma-
  separated, "none" for the work's own harmony (also for a melody played alone: no chords sound);
- `var_texture`: "parts" (the written voices), or one of `texture.TEXTURES`.
A change that was drawn but altered nothing (no long notes to ornament) is not recorded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from coverhunter.corpora.rendered_corpus.arrangement import pick_arrangement
from coverhunter.corpora.rendered_corpus.corpus_pieces import Piece, clip_notes
from coverhunter.corpora.rendered_corpus.harmony import (
    HARMONY_CHANGES,
    SCALES,
    clip_chords,
    reharmonise,
)
from coverhunter.corpora.rendered_corpus.texture import TEXTURES

MELODY_CHANGES = ("ornaments", "passing_notes", "displacement", "octave")
STRUCTURES = ("none", "section_repeated", "repeat_dropped", "section_dropped")
NONE = "none"  # the value of a column whose kind of change was not applied
# How covers accompany a melody, by weight: most with chords, few with the melody alone.
DEFAULT_TEXTURES = {
    "melody_only": 0.04, "bass_only": 0.04, "block": 0.14, "arpeggio": 0.1,
    "arpeggio_updown": 0.08, "alberti": 0.08, "strum": 0.12, "comping": 0.12,
    "walking_bass": 0.1, "pedal": 0.06, "counter_melody": 0.12,
}  # fmt: skip
_ORNAMENT_SHARE = 0.3  # of the melody's notes of a beat or longer
_PASSING_SHARE = 0.5  # of the thirds between a note of a quarter or longer and the next
_DISPLACE_SHARE = 0.25  # of the notes on a beat that follow another without a rest
_SHORT_Q = 0.25  # a grace note, a turn's note (a sixteenth); a trill's note is half of it
_EIGHTH_Q = 0.5
_PHRASE_BARS, _SHORT_PHRASE_BARS = 4, 2
_EPS = 1e-9


@dataclass(frozen=True)
class CoverSettings:
    """How often versions change what covers change (see the module doc); probabilities."""

    p_section_repeated: float = 0.15
    p_section_dropped: float = 0.15
    p_ornaments: float = 0.3
    p_passing_notes: float = 0.3
    p_displacement: float = 0.3
    p_melody_octave: float = 0.2
    p_new_voices: float = 0.6  # a piece of several parts: its top voice over new chords
    p_new_harmony: float = 0.7  # a melody: re-drawn chords, not the work's own
    # Given re-drawn chords, each change's chance (at least `refit` when none is drawn).
    p_half_bar: float = 0.3
    p_refit: float = 0.7
    p_relative: float = 0.3
    p_ii_for_iv: float = 0.3
    p_mode_change: float = 0.2
    p_secondary_dominant: float = 0.3
    p_sevenths: float = 0.4
    textures: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TEXTURES))
    p_doubled: float = 0.15  # a generated accompaniment's melody doubled an octave up

    def __post_init__(self) -> None:
        object.__setattr__(self, "textures", {k: float(v) for k, v in self.textures.items()})
        for name, value in vars(self).items():
            if name.startswith("p_") and not 0 <= value <= 1:
                raise ValueError(f"cover.{name}={value} must be a probability")
        if self.p_section_repeated + self.p_section_dropped > 1:
            raise ValueError("cover.p_section_repeated + p_section_dropped must be at most 1")
        unknown = sorted(set(self.textures) - set(TEXTURES))
        weights = list(self.textures.values())
        if unknown or any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(
                f"cover.textures={dict(self.textures)} must give weights >= 0, not all 0, "
                f"to textures of {list(TEXTURES)}"
            )


@dataclass(frozen=True)
class Cover:
    """What one version plays of a work (`score`) and what it changed (see the module doc)."""

    score: Piece  # restructured, its melody varied; one part over `chords` when accompanied
    arrangement: str
    texture: str
    structure: str = NONE
    melody: tuple[str, ...] = ()
    harmony: tuple[str, ...] = ()
    # The stretches `(start_q, end_q)` of the work that `score` plays one after the other.
    spans: tuple[tuple[float, float], ...] = ()

    def columns(self) -> dict[str, str]:
        """The table columns var_structure, var_melody, var_harmony, var_texture."""
        return {
            "var_structure": self.structure,
            "var_melody": ",".join(self.melody) or NONE,
            "var_harmony": ",".join(self.harmony) or NONE,
            "var_texture": self.texture,
        }


def as_written(piece: Piece) -> Cover:
    """The piece as written: every part, or a melody over its own chords in block chords."""
    texture = "parts" if len(piece.parts) > 1 else "block" if piece.chords else "melody_only"
    return Cover(piece, "full", texture, spans=((0.0, piece.length_q),))


# --- structure ------------------------------------------------------------------------------


def sections(piece: Piece) -> list[tuple[float, float]]:
    """The piece's phrases `(start_q, end_q)`: 4 bars each (2 under 8 bars), a remainder under
    half a phrase joined to the phrase before; one section when the piece has under 4 bars."""
    bars = piece.bar_offsets
    if len(bars) < 2 * _SHORT_PHRASE_BARS:
        return [(0.0, piece.length_q)]
    size = _PHRASE_BARS if len(bars) >= 2 * _PHRASE_BARS else _SHORT_PHRASE_BARS
    starts = [float(b) for b in bars[::size]]
    if len(bars) % size and len(bars) % size < size / 2:
        starts.pop()
    return list(zip(starts, [*starts[1:], piece.length_q], strict=True))


def splice(piece: Piece, spans: list[tuple[float, float]]) -> Piece:
    """The piece's `spans` (quarter notes) played one after the other, as a piece of its own."""
    parts: list[list[np.ndarray]] = [[] for _ in piece.parts]
    chords, bars, position = [], [], 0.0
    for start, end in spans:
        for collected, part in zip(parts, piece.parts, strict=True):
            notes = clip_notes(part, start, end)
            notes[:, 0] += position
            collected.append(notes)
        clipped = clip_chords(piece.chords, start, end)
        chords += [chord._replace(onset=chord.onset + position) for chord in clipped]
        inside = piece.bar_offsets[(piece.bar_offsets >= start) & (piece.bar_offsets < end)]
        bars.append(np.unique(np.concatenate([[start], inside])) - start + position)
        position += end - start
    return replace(
        piece,
        parts=tuple(np.concatenate(p) for p in parts),
        chords=tuple(chords),
        bar_offsets=np.concatenate(bars),
        length_q=position,
    )


def _same_melody(melody: np.ndarray, a: tuple[float, float], b: tuple[float, float]) -> bool:
    one, other = clip_notes(melody, *a), clip_notes(melody, *b)
    return one.shape == other.shape and len(one) > 0 and np.allclose(one, other)


def restructure(
    piece: Piece, kind: str, rng: np.random.Generator
) -> tuple[Piece, str, tuple[tuple[float, float], ...]]:
    """The piece with a section repeated ("section_repeated") or dropped ("section_dropped":
    one that repeats an earlier one when there is, then reported as "repeat_dropped"), what was
    done ("none" when the piece is too short for it) and the spans of `piece` played."""
    spans = sections(piece)
    whole = ((0.0, piece.length_q),)
    if kind == "section_repeated" and len(spans) >= 2:
        i = int(rng.integers(len(spans)))
        played = spans[: i + 1] + spans[i:]
        return splice(piece, played), kind, tuple(played)
    if kind == "section_dropped" and len(spans) >= 2:
        melody = piece.parts[0]
        repeats = [
            k
            for k in range(1, len(spans))
            if any(_same_melody(melody, spans[j], spans[k]) for j in range(k))
        ]
        if repeats:
            drop, kind = repeats[int(rng.integers(len(repeats)))], "repeat_dropped"
        elif len(spans) >= 3:
            drop = int(rng.integers(1, len(spans)))
        else:
            return piece, NONE, whole  # leaving out one of two sections would halve the work
        played = spans[:drop] + spans[drop + 1 :]
        return splice(piece, played), kind, tuple(played)
    if kind not in STRUCTURES:
        raise ValueError(f"structure {kind!r} is not one of {list(STRUCTURES)}")
    return piece, NONE, whole


# --- melody ---------------------------------------------------------------------------------


def _neighbour(pitch: float, direction: int, scale: frozenset[int]) -> float:
    """The next pitch of the scale above (+1) or below (-1)."""
    step = int(round(pitch)) + direction
    while step % 12 not in scale:
        step += direction
    return float(step)


def _alone(notes: np.ndarray) -> np.ndarray:
    """`(N,)` True for notes that no other note of the line starts with (not part of a chord)."""
    _, inverse, counts = np.unique(notes[:, 0], return_inverse=True, return_counts=True)
    return counts[inverse] == 1


def _sorted(rows) -> np.ndarray:
    notes = np.array(rows, dtype=np.float64).reshape(-1, 3)
    return notes[np.lexsort((notes[:, 2], notes[:, 0]))]


def ornament(
    notes: np.ndarray, beat_q: float, scale: frozenset[int], rng: np.random.Generator
) -> np.ndarray:
    """Some notes of a beat or longer begin with a grace note, a turn or a short trill."""
    rows, alone = [], _alone(notes)
    for (onset, length, pitch), single in zip(notes, alone, strict=True):
        if not single or length < beat_q - _EPS or rng.random() >= _ORNAMENT_SHARE:
            rows.append((onset, length, pitch))
            continue
        upper, lower = _neighbour(pitch, 1, scale), _neighbour(pitch, -1, scale)
        short = min(_SHORT_Q, length / 4)
        kind = int(rng.integers(3))
        if kind == 0:  # a grace note from above or below
            figure = [upper if rng.random() < 0.5 else lower]
        elif kind == 1:  # a turn: upper, the note, lower
            figure = [upper, pitch, lower]
        else:  # a trill with the upper neighbour through half the note
            short /= 2
            figure = [pitch, upper] * max(1, math.floor(length / 2 / (2 * short)))
        rows += [(onset + i * short, short, p) for i, p in enumerate(figure)]
        rest = len(figure) * short
        rows.append((onset + rest, length - rest, pitch))
    return _sorted(rows)


def pass_between(notes: np.ndarray, scale: frozenset[int], rng: np.random.Generator) -> np.ndarray:
    """Some thirds, from a note of a quarter or longer to the next, filled with the step between
    (in the note's last eighth or half)."""
    out, alone, extra = notes.copy(), _alone(notes), []
    for i in range(len(notes) - 1):
        (onset, length, pitch), following = notes[i], notes[i + 1]
        contiguous = abs(onset + length - following[0]) < _EPS and alone[i] and alone[i + 1]
        interval = following[2] - pitch
        if not contiguous or not 3 <= abs(interval) <= 4 or length < 2 * _SHORT_Q:
            continue
        if rng.random() >= _PASSING_SHARE:
            continue
        passing = _neighbour(pitch, int(np.sign(interval)), scale)
        if not min(pitch, following[2]) < passing < max(pitch, following[2]):
            passing = pitch + np.sign(interval) * 2  # no scale step between: a whole tone
        tail = min(length / 2, _EIGHTH_Q)
        out[i, 1] = length - tail
        extra.append((onset + length - tail, tail, passing))
    return _sorted([*out.tolist(), *extra])


def displace(
    notes: np.ndarray, bar_offsets: np.ndarray, beat_q: float, rng: np.random.Generator
) -> np.ndarray:
    """Some notes on a beat, right after another, anticipated or delayed by an eighth (the
    note before them shortened or lengthened to match)."""
    out, alone = notes.copy(), _alone(notes)
    for i in range(1, len(out)):
        (onset, length, _), previous = out[i], out[i - 1]
        bar = bar_offsets[max(int(np.searchsorted(bar_offsets, onset + _EPS)) - 1, 0)]
        beats = (onset - bar) / beat_q
        on_beat = abs(beats - round(beats)) < 1e-6
        contiguous = abs(previous[0] + previous[1] - onset) < _EPS and alone[i] and alone[i - 1]
        if not on_beat or not contiguous or rng.random() >= _DISPLACE_SHARE:
            continue
        shift = -_EIGHTH_Q if rng.random() < 0.5 else _EIGHTH_Q  # anticipated or delayed
        if (previous[1] + shift > _EIGHTH_Q / 2 - _EPS) and (length - shift > _EIGHTH_Q / 2 - _EPS):
            out[i - 1, 1] += shift
            out[i, 0] += shift
            out[i, 1] -= shift
    return _sorted(out)


def vary_melody(
    melody: np.ndarray,
    piece: Piece,
    changes: tuple[str, ...],
    rng: np.random.Generator,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """`melody (N, 3)` of `piece` with `changes` (names of `MELODY_CHANGES`), and the names of
    those that altered it."""
    scale = frozenset((piece.tonic + pc) % 12 for pc in SCALES[piece.mode])
    steps = {
        "passing_notes": lambda m: pass_between(m, scale, rng),
        "displacement": lambda m: displace(m, piece.bar_offsets, piece.beat_q, rng),
        "ornaments": lambda m: ornament(m, piece.beat_q, scale, rng),
    }
    applied = []
    for name, step in steps.items():
        if name in changes:
            varied = step(melody)
            if varied.shape != melody.shape or not np.array_equal(varied, melody):
                applied.append(name)
            melody = varied
    if "octave" in changes and len(melody):
        melody = melody.copy()
        melody[:, 2] += 12 if rng.random() < 0.5 else -12
        applied.append("octave")
    return melody, tuple(name for name in MELODY_CHANGES if name in applied)


# --- a version's draw -----------------------------------------------------------------------


# The setting that gives each change's probability.
_MELODY_SETTINGS = {name: f"p_{name}" for name in MELODY_CHANGES} | {"octave": "p_melody_octave"}
_HARMONY_SETTINGS = {name: f"p_{name}" for name in HARMONY_CHANGES}


def _drawn(
    settings: CoverSettings, names: Mapping[str, str], rng: np.random.Generator
) -> tuple[str, ...]:
    """The changes of `names` (change -> its setting) drawn, each with its probability."""
    return tuple(name for name, p in names.items() if rng.random() < getattr(settings, p))


def draw_cover(piece: Piece, settings: CoverSettings, rng: np.random.Generator) -> Cover:
    """A version's cover of `piece`: structure, melody, harmony and texture drawn from `rng`
    in a fixed order (see the module doc). The melody is the highest part with notes (an
    excerpt may leave a part silent; silent parts are left out)."""
    piece = replace(piece, parts=tuple(part for part in piece.parts if len(part)))
    u = rng.random()
    kind = "section_repeated" if u < settings.p_section_repeated else NONE
    if settings.p_section_repeated <= u < settings.p_section_repeated + settings.p_section_dropped:
        kind = "section_dropped"
    score, structure, spans = restructure(piece, kind, rng)

    top, melody_changes = vary_melody(
        score.parts[0], score, _drawn(settings, _MELODY_SETTINGS, rng), rng
    )
    done = {"structure": structure, "melody": melody_changes, "spans": spans}

    if len(score.parts) > 1 and rng.random() >= settings.p_new_voices:
        arrangement = pick_arrangement(rng)
        texture = "melody_only" if arrangement == "melody_only" else "parts"
        return Cover(replace(score, parts=(top, *score.parts[1:])), arrangement, texture, **done)

    textures = list(settings.textures)
    weights = np.array([settings.textures[t] for t in textures])
    texture = textures[int(rng.choice(len(textures), p=weights / weights.sum()))]
    arrangement = "doubled" if rng.random() < settings.p_doubled else "full"
    # Chords fitted to the top voice where the work has none of its own (several parts).
    fitted = not score.chords
    base = score.chords
    changes: tuple[str, ...] = ()
    if rng.random() < settings.p_new_harmony:
        changes = _drawn(settings, _HARMONY_SETTINGS, rng) or ("refit",)
    chords, harmony = reharmonise(
        score.parts[0], score.bar_offsets, score.length_q, score.beat_q, score.tonic, score.mode,
        base, changes, rng,
    )  # fmt: skip
    harmony = ("fitted", *harmony) if fitted else harmony
    if texture == "melody_only":
        harmony = ()  # no chord sounds
    accompanied = replace(score, parts=(top,), chords=chords)
    return Cover(accompanied, arrangement, texture, harmony=harmony, **done)


def cover_settings(value: CoverSettings | Mapping[str, Any] | None) -> CoverSettings:
    """`CoverSettings` from the parameters' mapping (an unknown key is a TypeError)."""
    if value is None:
        return CoverSettings()
    return value if isinstance(value, CoverSettings) else CoverSettings(**value)
