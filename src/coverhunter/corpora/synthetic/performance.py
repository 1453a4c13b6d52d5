"""From a work and a way of playing it (a `Performance`) to audio: note placement, overlap-add."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from coverhunter.corpora.synthetic.arrangement import arrange, vary_melody
from coverhunter.corpora.synthetic.composition import Work
from coverhunter.corpora.synthetic.score import Note, beats_to_seconds
from coverhunter.corpora.synthetic.voices import render_note

_BASS_GAIN = 1.2  # relative to the accompaniment: one bass note against a chord of three or four

# Notes are rendered once per (voice, MIDI pitch, held samples) and reused for every repeat.
NoteCache = dict[tuple[str, int, int], np.ndarray]


@dataclass(frozen=True)
class Performance:
    """How one version plays a work: everything here is drawn per version, not per work."""

    key: int  # pitch class 0-11 of the tonic as played
    tempo: float  # multiplies the work's own bpm
    melody_voice: str
    accomp_voice: str
    arrangement: str
    inversion: int  # chord inversion of the accompaniment, 0-2
    melody_octave: int  # octaves the melody moves from its reference register
    articulation: float  # fraction of a note's written length that it is held (legato 1)
    accomp_gain: float  # amplitude of accompaniment notes relative to the melody
    timing_jitter_s: float  # standard deviation of a human's onset errors
    velocity_jitter: float  # relative spread of note loudness
    melody_variation: float  # probability that a melody note is changed or left out


def reference_midi(key: int, centre_midi: int) -> int:
    """MIDI note of the tonic of `key` nearest `centre_midi` (so no key implies a register)."""
    return centre_midi + (key - centre_midi + 6) % 12 - 6


def _place(
    notes: list[Note],
    work: Work,
    performance: Performance,
    n_repeats: int,
    transpose: int,
    sample_rate: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Onset samples, held samples, MIDI pitches and amplitudes `(N,)` of repeated notes."""
    if not notes:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(0)
    onset, duration, pitch, velocity = (np.array(column) for column in zip(*notes, strict=True))
    repeat = np.repeat(np.arange(n_repeats), len(notes)) * work.length_beats
    onset = np.tile(onset, n_repeats) + repeat
    offset = onset + np.tile(duration, n_repeats)
    beat_s = 60.0 / (work.bpm * performance.tempo)
    start_s = beats_to_seconds(onset, beat_s, work.swing)
    held_s = (beats_to_seconds(offset, beat_s, work.swing) - start_s) * performance.articulation
    start_s = start_s + rng.normal(0.0, performance.timing_jitter_s, start_s.shape)
    amplitude = np.tile(velocity, n_repeats) * (
        1.0 + rng.uniform(-1.0, 1.0, start_s.shape) * performance.velocity_jitter
    )
    return (
        np.maximum(np.round(start_s * sample_rate), 0).astype(np.int64),
        np.maximum(np.round(held_s * sample_rate), 1).astype(np.int64),
        np.tile(pitch, n_repeats).astype(np.int64) + transpose,
        amplitude,
    )


def _overlap_add(
    out: np.ndarray, voice: str, placed: tuple, gain: float, sample_rate: int, cache: NoteCache
) -> None:
    """Add every placed note into `out` (S,) in place, cut at its end."""
    n_samples = len(out)
    for start, held, midi, amplitude in zip(*placed, strict=True):
        if start >= n_samples:
            continue
        key = (voice, int(midi), int(held))
        if key not in cache:
            cache[key] = render_note(voice, int(midi), int(held), sample_rate)
        note = cache[key]
        end = min(start + len(note), n_samples)
        out[start:end] += (gain * amplitude) * note[: end - start]


def render_section(
    work: Work,
    performance: Performance,
    n_samples: int,
    sample_rate: int,
    rng: np.random.Generator,
    cache: NoteCache,
    centre_midi: int = 60,
) -> np.ndarray:
    """`(n_samples,)` float32 of the work's core played from its start and repeated to fill.

    `cache` holds notes already rendered at `sample_rate`; pass one dict per version.

    The melody sits around `centre_midi` (plus the performance's octave), the accompaniment an
    octave and the bass two octaves below.
    """
    beat_s = 60.0 / (work.bpm * performance.tempo)
    n_repeats = math.ceil(n_samples / sample_rate / (work.length_beats * beat_s)) + 1
    ref = reference_midi(performance.key, centre_midi)
    accompaniment, bass = arrange(
        work.chords, work.beats_per_bar, performance.arrangement, performance.inversion
    )
    out = np.zeros(n_samples, dtype=np.float32)
    melody = vary_melody(work.melody, work.mode, performance.melody_variation, rng)
    parts = (
        (melody, performance.melody_voice, ref + 12 * performance.melody_octave, 1.0),
        (accompaniment, performance.accomp_voice, ref - 12, performance.accomp_gain),
        (bass, performance.accomp_voice, ref - 24, performance.accomp_gain * _BASS_GAIN),
    )
    for notes, voice, transpose, gain in parts:
        placed = _place(list(notes), work, performance, n_repeats, transpose, sample_rate, rng)
        _overlap_add(out, voice, placed, gain, sample_rate, cache)
    return out
