"""Accompaniment patterns: how one version turns a work's chords into notes.

Pitches stay relative to the tonic: accompaniment notes lie within about half an octave of it
(the renderer puts them an octave below the melody's reference), bass notes are chord roots in
0-11 (the renderer puts them two octaves down).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from coverhunter.corpora.synthetic.composition import MODES, Chord
from coverhunter.corpora.synthetic.score import Note

ARRANGEMENTS = ("block", "arpeggio", "alberti", "bass_offbeat", "melody_only")

_EIGHTH = 0.5  # beats
_STAB = 0.35  # beats a short off-beat chord is held


def voice_chord(tones: Sequence[int], inversion: int) -> list[int]:
    """Close voicing of a chord in the given inversion, its lowest note within [-6, 6)."""
    voiced = sorted(tones)
    for _ in range(inversion % len(voiced)):
        voiced = voiced[1:] + [voiced[0] + 12]
    shift = -12 * ((voiced[0] + 6) // 12)
    return [tone + shift for tone in voiced]


def _block(chord: Chord, voiced: list[int], beats_per_bar: int) -> tuple[list, list]:
    accompaniment = [Note(chord.onset, chord.duration, tone, 0.8) for tone in voiced]
    return accompaniment, [Note(chord.onset, chord.duration, chord.tones[0] % 12, 0.9)]


def _broken(chord: Chord, voiced: list[int], order: list[int]) -> list[Note]:
    notes, t, i = [], 0.0, 0
    while t < chord.duration - 1e-9:
        accent = 0.85 if t == int(t) else 0.7
        notes.append(Note(chord.onset + t, _EIGHTH, voiced[order[i % len(order)]], accent))
        t += _EIGHTH
        i += 1
    return notes


def _arpeggio(chord: Chord, voiced: list[int], beats_per_bar: int) -> tuple[list, list]:
    rising = voiced + [voiced[0] + 12]
    pattern = rising + rising[-2:0:-1]  # up, then back down without repeating the ends
    bass = [Note(chord.onset, chord.duration, chord.tones[0] % 12, 0.9)]
    return _broken(chord, pattern, list(range(len(pattern)))), bass


def _alberti(chord: Chord, voiced: list[int], beats_per_bar: int) -> tuple[list, list]:
    # Low, high, middle, high: the left-hand figure of a classical sonata; it is its own bass.
    return _broken(chord, voiced, [0, len(voiced) - 1, 1, len(voiced) - 1]), []


def _bass_offbeat(chord: Chord, voiced: list[int], beats_per_bar: int) -> tuple[list, list]:
    accompaniment, bass = [], []
    root = chord.tones[0] % 12
    for beat in range(int(round(chord.duration))):
        onset = chord.onset + beat
        if (onset % beats_per_bar) % 2 == 0:  # root and fifth alternate on the strong beats
            pitch = root if (onset % beats_per_bar) == 0 or beats_per_bar % 2 else root + 7
            bass.append(Note(onset, 1.0, pitch, 0.9))
        accompaniment += [Note(onset + _EIGHTH, _STAB, tone, 0.7) for tone in voiced]
    return accompaniment, bass


_PATTERNS = {
    "block": _block,
    "arpeggio": _arpeggio,
    "alberti": _alberti,
    "bass_offbeat": _bass_offbeat,
}


def arrange(
    chords: Sequence[Chord], beats_per_bar: int, style: str, inversion: int
) -> tuple[list[Note], list[Note]]:
    """(accompaniment, bass) notes for a chord sequence in one of ARRANGEMENTS."""
    if style not in ARRANGEMENTS:
        raise ValueError(f"unknown arrangement {style!r}; choose one of {ARRANGEMENTS}")
    if style == "melody_only":
        return [], []
    accompaniment, bass = [], []
    for chord in chords:
        part_a, part_b = _PATTERNS[style](chord, voice_chord(chord.tones, inversion), beats_per_bar)
        accompaniment += part_a
        bass += part_b
    return accompaniment, bass


def vary_melody(
    melody: Sequence[Note], mode: str, p_change: float, rng: np.random.Generator
) -> list[Note]:
    """A version's own reading of the melody: each note, with probability `p_change`, moves
    to the next scale tone up or down, or (if not the first) is left out."""
    scale = MODES[mode]
    varied = []
    for i, note in enumerate(melody):
        if rng.random() >= p_change:
            varied.append(note)
            continue
        if i > 0 and rng.random() < 1 / 3:
            continue
        octave, pitch_class = divmod(note.pitch, 12)
        degree = 7 * octave + scale.index(pitch_class) + (1 if rng.random() < 0.5 else -1)
        varied.append(note._replace(pitch=12 * (degree // 7) + scale[degree % 7]))
    return varied
