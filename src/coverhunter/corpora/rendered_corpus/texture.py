"""Accompaniment textures: how a version plays a progression under the melody.

A texture turns chords (`harmony.Chord`, in quarter notes) into the notes `(N, 3)` (onset,
duration, MIDI pitch) of up to three roles: `bass` (roots around F2), `chords` (the upper
accompaniment, voiced around a centre about an octave under the melody) and `inner` (a second
line). The textures of `TEXTURES`:
- `melody_only`: no accompaniment; `bass_only`: the chords' roots, held;
- `block`: each chord held, its root in the bass;
- `arpeggio`, `arpeggio_updown`, `alberti`: the chord broken into eighths (triplet eighths in a
  compound metre): rising; rising and falling back; low, high, middle, high; the root held below;
- `strum`: the chord struck on every beat, its notes a few hundredths of a beat apart (an up-stroke,
  top note first, after every second beat), root and fifth on the strong beats in the bass;
- `comping`: bass on the strong beats (root, then fifth), short chords on the others (oom-pah);
- `walking_bass`: a bass note a beat, up through the chord's tones and a semitone into the next
  root, the chords held above;
- `pedal`: the tonic held in the bass through every bar under block chords;
- `counter_melody`: a second line, a chord tone a beat (held while it repeats), moving against
  the melody, over the roots.
A version also draws its voicing (`voice`): the chords' centre, close or open (middle note an
octave up). A note never crosses its chord's end, so a texture follows any harmonic rhythm.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from coverhunter.corpora.rendered_corpus.harmony import Chord

TEXTURES = (
    "melody_only", "bass_only", "block", "arpeggio", "arpeggio_updown", "alberti", "strum",
    "comping", "walking_bass", "pedal", "counter_melody",
)  # fmt: skip
_BASS_CENTRE = 41  # a chord's root is played within half an octave of F2
_STRUM_Q = 0.03  # quarter notes between the notes of a strummed chord
_STAB = 0.5  # a comping chord lasts this share of its beat
_COUNTER_RANGE = 7  # semitones a counter-melody strays from the voicing's centre
_EPS = 1e-9


def voice(pcs: Sequence[int], centre: int, open_voicing: bool) -> list[int]:
    """MIDI pitches of pitch classes `pcs` near `centre`, ascending.

    Close: each pitch class once in the octave from `centre - 6`. Open: the middle note of a
    close voicing moved an octave up.
    """
    pitches = sorted(centre - 6 + (pc - (centre - 6)) % 12 for pc in pcs)
    if open_voicing and len(pitches) >= 3:
        pitches[len(pitches) // 2] += 12
        pitches.sort()
    return pitches


def bass_pitch(pc: int) -> int:
    """The MIDI pitch of pitch class `pc` within half an octave of F2."""
    return _BASS_CENTRE - 6 + (pc - _BASS_CENTRE + 6) % 12


def _as_notes(rows: list) -> np.ndarray:
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def _end(chord: Chord) -> float:
    return chord.onset + chord.duration


def _grid(chord: Chord, step: float) -> np.ndarray:
    """Onsets every `step` quarter notes through the chord."""
    return np.arange(chord.onset, _end(chord) - _EPS, step)


def _subdivision(beat_q: float) -> float:
    """An eighth: half a beat, a third of a compound (dotted) beat."""
    return beat_q / 3 if abs(beat_q - 1.5) < _EPS else beat_q / 2


def _beat_in_bar(onset: float, bar_offsets: np.ndarray, beat_q: float) -> int:
    start = bar_offsets[max(int(np.searchsorted(bar_offsets, onset + _EPS)) - 1, 0)]
    return round((onset - start) / beat_q)


def _strong(beat: int, beats_per_bar: int) -> bool:
    """Strong beats: the first and every second after it (in triple time only the first)."""
    return beat % 2 == 0 and not (beats_per_bar == 3 and beat == 2)


def _fifth(chord: Chord) -> int:
    return (chord.root + 7) % 12 if (chord.root + 7) % 12 in chord.pcs else chord.root


def _roots(chords: Sequence[Chord]) -> np.ndarray:
    return _as_notes([(c.onset, c.duration, bass_pitch(c.root)) for c in chords])


def _block(chords: Sequence[Chord], centre: int, open_voicing: bool) -> np.ndarray:
    return _as_notes(
        [(c.onset, c.duration, p) for c in chords for p in voice(c.pcs, centre, open_voicing)]
    )


def _broken(chords: Sequence[Chord], centre: int, open_voicing: bool, step: float, figure: str):
    rows = []
    for chord in chords:
        pitches = voice(chord.pcs, centre, open_voicing)
        if figure == "updown":
            rising = [*pitches, pitches[0] + 12]
            pitches = rising + rising[-2:0:-1]  # up, then back down without repeating the ends
        elif figure == "alberti" and len(pitches) >= 3:
            pitches = [pitches[0], pitches[-1], pitches[1], pitches[-1]]
        for i, onset in enumerate(_grid(chord, step)):
            rows.append((onset, min(step, _end(chord) - onset), pitches[i % len(pitches)]))
    return _as_notes(rows)


def _strum(chords, centre, open_voicing, beat_q, beats_per_bar, bar_offsets):
    upper, bass = [], []
    for chord in chords:
        pitches = voice(chord.pcs, centre, open_voicing)
        strokes = []  # (onset, pitches in the order struck)
        for onset in _grid(chord, beat_q):
            beat = _beat_in_bar(onset, bar_offsets, beat_q)
            strokes.append((onset, pitches))
            if beat % 2 == 1 and onset + beat_q / 2 < _end(chord) - _EPS:
                strokes.append((onset + beat_q / 2, pitches[::-1]))
            if _strong(beat, beats_per_bar) or onset == chord.onset:
                pc = chord.root if onset == chord.onset or beat == 0 else _fifth(chord)
                bass.append((onset, min(beat_q * 2, _end(chord) - onset), bass_pitch(pc)))
        ends = [s for s, _ in strokes[1:]] + [_end(chord)]
        for (onset, struck), end in zip(strokes, ends, strict=True):
            for i, pitch in enumerate(struck):
                start = min(onset + i * _STRUM_Q, end - _STRUM_Q)
                upper.append((start, end - start, pitch))
    return _as_notes(upper), _cut_at_next(_as_notes(bass))


def _comping(chords, centre, open_voicing, beat_q, beats_per_bar, bar_offsets):
    upper, bass = [], []
    for chord in chords:
        pitches = voice(chord.pcs, centre, open_voicing)
        for onset in _grid(chord, beat_q):
            beat = _beat_in_bar(onset, bar_offsets, beat_q)
            length = min(beat_q, _end(chord) - onset)
            if _strong(beat, beats_per_bar) or onset == chord.onset:
                pc = chord.root if onset == chord.onset or beat == 0 else _fifth(chord)
                bass.append((onset, length, bass_pitch(pc)))
            else:
                upper += [(onset, length * _STAB, p) for p in pitches]
    return _as_notes(upper), _as_notes(bass)


def _walking(chords: Sequence[Chord], beat_q: float) -> np.ndarray:
    """A bass note a beat: the root, the chord's tones upwards, a semitone into the next root."""
    rows = []
    for chord, following in zip(chords, [*chords[1:], None], strict=True):
        root = bass_pitch(chord.root)
        tones = sorted(root + (pc - chord.root) % 12 for pc in chord.pcs) + [root + 12]
        beats = _grid(chord, beat_q)
        for i, onset in enumerate(beats):
            pitch = tones[i % len(tones)]
            if i == len(beats) - 1 and i > 0 and following is not None:
                target = bass_pitch(following.root)
                pitch = target - 1 if target > tones[(i - 1) % len(tones)] else target + 1
            rows.append((onset, min(beat_q, _end(chord) - onset), pitch))
    return _as_notes(rows)


def _pedal(tonic: int, bar_offsets: np.ndarray, length_q: float) -> np.ndarray:
    ends = [*bar_offsets[1:], length_q]
    pitch = bass_pitch(tonic)
    return _as_notes([(s, e - s, pitch) for s, e in zip(bar_offsets, ends, strict=True) if e > s])


def _sounding(melody: np.ndarray, onset: float) -> float | None:
    """The pitch of the melody note sounding at `onset` (the highest), or None in a rest."""
    on = (melody[:, 0] <= onset + _EPS) & (melody[:, 0] + melody[:, 1] > onset + _EPS)
    return float(melody[on, 2].max()) if on.any() else None


def _counter(chords: Sequence[Chord], melody: np.ndarray, centre: int, beat_q: float):
    """A chord tone a beat near `centre`, stepping against the melody's motion; repeats held."""
    rows: list[list[float]] = []
    previous, previous_melody = float(centre), None
    for chord in chords:
        low, high = centre - _COUNTER_RANGE, centre + _COUNTER_RANGE
        options = [p for p in range(low, high + 1) if p % 12 in chord.pcs]
        for onset in _grid(chord, beat_q):
            heard = _sounding(melody, onset)
            motion = 0.0 if heard is None or previous_melody is None else heard - previous_melody
            target = previous - motion / 2  # contrary motion, in smaller steps
            pitch = min(options, key=lambda p: (abs(p - target), p))
            length = min(beat_q, _end(chord) - onset)
            if rows and rows[-1][2] == pitch and abs(rows[-1][0] + rows[-1][1] - onset) < _EPS:
                rows[-1][1] += length
            else:
                rows.append([float(onset), length, float(pitch)])
            previous, previous_melody = (
                float(pitch),
                heard if heard is not None else previous_melody,
            )
    return _as_notes(rows)


def _cut_at_next(notes: np.ndarray) -> np.ndarray:
    """Each note of a single line cut where the next starts."""
    out = notes[np.argsort(notes[:, 0], kind="stable")].copy()
    if len(out) > 1:
        out[:-1, 1] = np.minimum(out[:-1, 1], np.diff(out[:, 0]))
    return out


def accompany(
    chords: Sequence[Chord],
    texture: str,
    melody: np.ndarray,
    bar_offsets: np.ndarray,
    length_q: float,
    beat_q: float,
    beats_per_bar: int,
    tonic: int,
    centre: int,
    open_voicing: bool = False,
) -> list[tuple[np.ndarray, str]]:
    """`(notes (N, 3), role)` of `texture` over `chords`; roles "bass", "chords", "inner".

    `melody (M, 3)` is what the counter-melody moves against; `bar_offsets`, `beat_q` and
    `beats_per_bar` the metre; `tonic` the pedal's pitch class; `centre` and `open_voicing` how
    the chords are voiced (see `voice`). Empty notes are left out.
    """
    assert melody.ndim == 2 and melody.shape[1] == 3, melody.shape
    if texture not in TEXTURES:
        raise ValueError(f"texture {texture!r} is not one of {list(TEXTURES)}")
    if texture == "melody_only" or not chords:
        return []
    metre = (beat_q, beats_per_bar, bar_offsets)
    step = _subdivision(beat_q)
    roots = _roots(chords)
    parts = {
        "bass_only": lambda: [(roots, "bass")],
        "block": lambda: [(roots, "bass"), (_block(chords, centre, open_voicing), "chords")],
        "arpeggio": lambda: [
            (roots, "bass"),
            (_broken(chords, centre, open_voicing, step, "up"), "chords"),
        ],
        "arpeggio_updown": lambda: [
            (roots, "bass"),
            (_broken(chords, centre, open_voicing, step, "updown"), "chords"),
        ],
        "alberti": lambda: [
            (roots, "bass"),
            (_broken(chords, centre, open_voicing, step, "alberti"), "chords"),
        ],
        "strum": lambda: list(
            zip(_strum(chords, centre, open_voicing, *metre), ("chords", "bass"), strict=True)
        ),
        "comping": lambda: list(
            zip(_comping(chords, centre, open_voicing, *metre), ("chords", "bass"), strict=True)
        ),
        "walking_bass": lambda: [
            (_walking(chords, beat_q), "bass"),
            (_block(chords, centre, open_voicing), "chords"),
        ],
        "pedal": lambda: [
            (_pedal(tonic, bar_offsets, length_q), "bass"),
            (_block(chords, centre, open_voicing), "chords"),
        ],
        "counter_melody": lambda: [
            (roots, "bass"),
            (_counter(chords, melody, centre, beat_q), "inner"),
        ],
    }
    return [(notes, role) for notes, role in parts[texture]() if len(notes)]
