"""A work: its own melody, chord progression and rhythmic feel, composed from a random generator.

The core of a work is two phrases, A and A'. They share all bars but the last two, where A ends
on the dominant (a half cadence) and A' on the tonic (a full cadence), as in a song's verse.
Pitches are semitones above the tonic, so each version can put the work in its own key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coverhunter.corpora.synthetic.score import Note

MODES: dict[str, tuple[int, ...]] = {
    "ionian": (0, 2, 4, 5, 7, 9, 11),
    "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
}
_MODE_WEIGHTS = (0.3, 0.25, 0.12, 0.12, 0.1, 0.06, 0.05)

# Chord roots as scale degrees (0 = I ... 6 = vii) and common-practice moves between them.
_CHORD_MOVES: dict[int, dict[int, float]] = {
    0: {0: 0.1, 1: 0.15, 2: 0.05, 3: 0.25, 4: 0.25, 5: 0.2},
    1: {0: 0.1, 3: 0.15, 4: 0.6, 6: 0.15},
    2: {1: 0.2, 3: 0.3, 5: 0.5},
    3: {0: 0.3, 1: 0.2, 3: 0.1, 4: 0.35, 6: 0.05},
    4: {0: 0.55, 3: 0.1, 4: 0.05, 5: 0.3},
    5: {1: 0.3, 2: 0.15, 3: 0.35, 4: 0.2},
    6: {0: 0.7, 2: 0.3},
}
_DOMINANT, _TONIC = 4, 0

# Melody steps in scale degrees: mostly steps, some leaps.
_STEPS = np.array([-4, -3, -2, -1, 0, 1, 2, 3, 4])
_STEP_WEIGHTS = np.array([0.03, 0.04, 0.12, 0.27, 0.08, 0.27, 0.12, 0.04, 0.03])
_MELODY_DEGREES = (-3, 11)  # lowest and highest scale degree of the melody (0 = the tonic)
_DURATIONS = np.array([0.25, 0.5, 0.75, 1.0, 1.5, 2.0])  # note lengths in beats
_P_TRIPLE_METRE = 0.25  # share of works in 3/4 rather than 4/4
_P_SWING, _SWING_RANGE = 0.3, (0.58, 0.67)  # share of swung works, and how far the off-beat moves
_P_SEVENTHS = 0.35  # share of works whose chords (other than I) carry a seventh


@dataclass(frozen=True)
class Chord:
    onset: float  # beats from the start of the core
    duration: float  # beats
    tones: tuple[int, ...]  # semitones above the tonic, root first, root in 0-11


@dataclass(frozen=True)
class Work:
    """The score of a work's core, A then A', in relative pitch."""

    tonic: int  # pitch class 0-11 of the work's own key
    mode: str
    beats_per_bar: int
    bpm: float  # the work's own tempo; versions scale it
    swing: float  # where the off-beat eighth falls within a beat (0.5: straight)
    n_bars: int  # bars per phrase; the core is two phrases
    melody: tuple[Note, ...]
    chords: tuple[Chord, ...]

    @property
    def length_beats(self) -> float:
        return float(2 * self.n_bars * self.beats_per_bar)


def _degree_to_semitones(degree: int, scale: tuple[int, ...]) -> int:
    return 12 * (degree // 7) + scale[degree % 7]


def _chord_tones(root: int, scale: tuple[int, ...], seventh: bool) -> tuple[int, ...]:
    degrees = (root, root + 2, root + 4) + ((root + 6,) if seventh else ())
    return tuple(_degree_to_semitones(d, scale) for d in degrees)


def _next_root(rng: np.random.Generator, root: int) -> int:
    moves = _CHORD_MOVES[root]
    return int(rng.choice(list(moves), p=list(moves.values())))


def _progression(rng: np.random.Generator, n_bars: int, p_split: float) -> list[list[int]]:
    """Chord roots per bar of phrase A: one chord a bar, or two; starts on I, ends on V."""
    bars, root = [], _TONIC
    for _ in range(n_bars):
        n_chords = 2 if rng.random() < p_split else 1
        roots = []
        for _ in range(n_chords):
            roots.append(root)
            root = _next_root(rng, root)
        bars.append(roots)
    bars[-1] = [bars[-1][0], _DOMINANT] if len(bars[-1]) == 2 else [_DOMINANT]
    return bars


def _bar_rhythm(rng: np.random.Generator, beats_per_bar: int, density: float) -> list[tuple]:
    """(onset, duration) in beats within one bar; `density` near 1 favours short notes."""
    weights = np.array(
        [0.15 * density, 0.2 + 0.25 * density, 0.1, 0.25, 0.03 + 0.1 * (1 - density), 0.12]
    )
    rhythm, t = [], 0.0
    while t < beats_per_bar - 1e-9:
        fits = _DURATIONS <= beats_per_bar - t + 1e-9
        p = weights * fits
        duration = float(rng.choice(_DURATIONS, p=p / p.sum()))
        # Sixteenths come in pairs so the following notes stay on the eighth grid.
        pieces = (
            [0.25, 0.25] if duration == 0.25 and t + 0.5 <= beats_per_bar + 1e-9 else [duration]
        )
        for piece in pieces:
            rhythm.append((t, piece))
            t += piece
    return rhythm


def _chord_at(bar_chords: list[tuple[float, int]], beat_in_bar: float) -> int:
    root = bar_chords[0][1]
    for start, chord_root in bar_chords:
        if beat_in_bar >= start:
            root = chord_root
    return root


def _snap_to_chord(degree: int, root: int, seventh: bool) -> int:
    """The chord tone (in scale degrees) nearest to `degree`, ties going down."""
    members = {(root + step) % 7 for step in ((0, 2, 4, 6) if seventh else (0, 2, 4))}
    for distance in (0, -1, 1, -2, 2, -3, 3):
        if (degree + distance) % 7 in members:
            return degree + distance
    return degree


def _melody_bars(
    rng: np.random.Generator,
    bar_chords: list[list[tuple[float, int]]],
    first_bar: int,
    beats_per_bar: int,
    degree: int,
    shape: dict,
) -> tuple[list[tuple[float, float, int, float]], int]:
    """Melody notes (onset, duration, degree, velocity) of consecutive bars; the last degree."""
    notes, rhythms = [], []
    low, high = _MELODY_DEGREES
    for i, chords in enumerate(bar_chords):
        bar = first_bar + i
        last_bar = i == len(bar_chords) - 1 and shape["cadence"] is not None
        if len(rhythms) >= 2 and rng.random() < shape["p_motif"]:
            rhythm = rhythms[-2]  # repeat the rhythm of two bars ago: a motif
        else:
            rhythm = _bar_rhythm(rng, beats_per_bar, shape["density"])
        if last_bar:  # the phrase ends on a long note
            head = [(t, d) for t, d in rhythm if t < beats_per_bar / 2]
            start = head[-1][0] + head[-1][1] if head else 0.0
            rhythm = head + [(start, beats_per_bar - start)] if start < beats_per_bar else head
        rhythms.append(rhythm)
        for j, (t, duration) in enumerate(rhythm):
            step = int(rng.choice(_STEPS, p=_STEP_WEIGHTS))
            degree = degree + step
            if degree < low or degree > high:
                degree -= 2 * step  # bounce off the edge of the range
            root = _chord_at(chords, t)
            on_chord_change = any(abs(t - start) < 1e-9 for start, _ in chords)
            if on_chord_change and rng.random() < shape["p_chord_tone"]:
                degree = _snap_to_chord(degree, root, shape["seventh"])
            if last_bar and j == len(rhythm) - 1:
                degree = _snap_to_chord(degree, shape["cadence"], False)
            if j > 0 and not last_bar and rng.random() < shape["p_rest"]:
                continue
            accent = 1.0 if t == 0 else (0.85 if t == int(t) else 0.72)
            notes.append((bar * beats_per_bar + t, duration, degree, accent))
    return notes, degree


def _chords_in_bar(roots: list[int], beats_per_bar: int) -> list[tuple[float, int]]:
    if len(roots) == 1:
        return [(0.0, roots[0])]
    return [(0.0, roots[0]), (float((beats_per_bar + 1) // 2), roots[1])]


def compose_work(
    rng: np.random.Generator,
    min_bars: int,
    max_bars: int,
    min_bpm: float,
    max_bpm: float,
) -> Work:
    """A random work: mode, key, metre, tempo, swing, chord progression and melody."""
    mode = str(rng.choice(list(MODES), p=_MODE_WEIGHTS))
    scale = MODES[mode]
    tonic = int(rng.integers(12))
    beats_per_bar = 3 if rng.random() < _P_TRIPLE_METRE else 4
    n_bars = int(rng.integers(min_bars, max_bars + 1))
    bpm = float(rng.uniform(min_bpm, max_bpm))
    swing = float(rng.uniform(*_SWING_RANGE)) if rng.random() < _P_SWING else 0.5
    seventh = bool(rng.random() < _P_SEVENTHS)
    shape = {
        "density": float(rng.uniform(0.0, 1.0)),
        "p_motif": float(rng.uniform(0.2, 0.8)),
        "p_chord_tone": float(rng.uniform(0.5, 0.95)),
        "p_rest": float(rng.uniform(0.0, 0.15)),
        "seventh": seventh,
        "cadence": None,
    }
    # A and A' share every bar but the last two.
    roots_a = _progression(rng, n_bars, p_split=float(rng.uniform(0.0, 0.5)))
    roots_b = roots_a[:-2] + [[int(rng.choice([1, 3])), _DOMINANT], [_TONIC]]
    chords_a = [_chords_in_bar(r, beats_per_bar) for r in roots_a]
    chords_b = [_chords_in_bar(r, beats_per_bar) for r in roots_b]

    start = _snap_to_chord(int(rng.integers(0, 5)), _TONIC, False)
    body, degree = _melody_bars(rng, chords_a[:-2], 0, beats_per_bar, start, shape)
    end_a, _ = _melody_bars(
        rng, chords_a[-2:], n_bars - 2, beats_per_bar, degree, {**shape, "cadence": _DOMINANT}
    )
    end_b, _ = _melody_bars(
        rng, chords_b[-2:], 2 * n_bars - 2, beats_per_bar, degree, {**shape, "cadence": _TONIC}
    )
    phrase_beats = n_bars * beats_per_bar
    melody_degrees = body + end_a + [(t + phrase_beats, d, g, v) for t, d, g, v in body] + end_b
    melody = tuple(
        Note(t, d, _degree_to_semitones(g, scale), v) for t, d, g, v in sorted(melody_degrees)
    )

    chords = []
    for phrase, bars in enumerate((chords_a, chords_b)):
        for bar, bar_chords in enumerate(bars):
            bar_start = (phrase * n_bars + bar) * beats_per_bar
            ends = [start for start, _ in bar_chords[1:]] + [float(beats_per_bar)]
            for (chord_start, root), end in zip(bar_chords, ends, strict=True):
                tones = _chord_tones(root, scale, seventh and root != _TONIC)
                chords.append(Chord(bar_start + chord_start, end - chord_start, tones))
    return Work(tonic, mode, beats_per_bar, bpm, swing, n_bars, melody, tuple(chords))
