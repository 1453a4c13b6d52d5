"""Notes in seconds to a Standard MIDI File, written by music21's MIDI module.

The file has one track at a fixed tempo, so a tick is a fixed span of time and onsets keep the
placement `performance.py` gave them (to half a millisecond). Each channel gets its program at
the start; channel 9 (the tenth) is the General-MIDI drum kit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from music21 import midi

DRUM_CHANNEL = 9  # 0-based; General MIDI's channel 10
_TICKS_PER_QUARTER = 960
_MICROSECONDS_PER_QUARTER = 500_000  # 120 bpm: 1920 ticks a second
_TICKS_PER_SECOND = _TICKS_PER_QUARTER * 1_000_000 / _MICROSECONDS_PER_QUARTER
# At the same tick: tempo and programs first, then note-offs, then note-ons (a repeated note
# must stop before it starts again).
_ORDER_META, _ORDER_PROGRAM, _ORDER_OFF, _ORDER_ON = range(4)


@dataclass(frozen=True)
class MidiNotes:
    """Notes as parallel `(N,)` arrays, and the program of each pitched channel."""

    start_s: np.ndarray
    end_s: np.ndarray
    pitch: np.ndarray  # MIDI 0-127 (drum keys on the drum channel)
    velocity: np.ndarray  # 1-127
    channel: np.ndarray  # 0-15
    programs: dict[int, int] = field(default_factory=dict)  # channel -> General-MIDI program

    def __post_init__(self) -> None:
        n = len(self.start_s)
        for name in ("start_s", "end_s", "pitch", "velocity", "channel"):
            value = getattr(self, name)
            assert value.ndim == 1 and len(value) == n, (name, value.shape, n)

    def __len__(self) -> int:
        return len(self.start_s)

    def shifted(self, seconds: float) -> MidiNotes:
        """The same notes `seconds` later."""
        return MidiNotes(
            self.start_s + seconds,
            self.end_s + seconds,
            self.pitch,
            self.velocity,
            self.channel,
            dict(self.programs),
        )

    @staticmethod
    def concat(parts: list[MidiNotes]) -> MidiNotes:
        """All notes of `parts`; a channel must keep one program across them."""
        programs: dict[int, int] = {}
        for part in parts:
            for channel, program in part.programs.items():
                if programs.setdefault(channel, program) != program:
                    raise ValueError(
                        f"channel {channel} has programs {programs[channel]} and {program}"
                    )
        join = lambda name, dtype: np.concatenate(  # noqa: E731
            [np.zeros(0, dtype), *(getattr(p, name) for p in parts)]
        ).astype(dtype)
        return MidiNotes(
            join("start_s", np.float64),
            join("end_s", np.float64),
            join("pitch", np.int64),
            join("velocity", np.int64),
            join("channel", np.int64),
            programs,
        )


def _ticks(seconds: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(seconds) * _TICKS_PER_SECOND).astype(np.int64)


def _no_overlaps(notes: MidiNotes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end ticks with each note cut where the same key on its channel starts again
    (its note-off would otherwise silence the later note)."""
    start, end = _ticks(notes.start_s), _ticks(notes.end_s)
    order = np.lexsort((start, notes.pitch, notes.channel))
    same_key = (notes.channel[order][1:] == notes.channel[order][:-1]) & (
        notes.pitch[order][1:] == notes.pitch[order][:-1]
    )
    following = np.where(same_key, start[order][1:], np.iinfo(np.int64).max)
    end[order[:-1]] = np.minimum(end[order[:-1]], following)
    return start, np.maximum(end, start + 1)


def _event(track: midi.MidiTrack, kind, channel: int) -> midi.MidiEvent:
    # music21 numbers channels 1-16.
    return midi.MidiEvent(track, type=kind, channel=channel + 1)


def write_midi(notes: MidiNotes, path: Path) -> None:
    """Write `notes` to `path` as a one-track Standard MIDI File (format 0)."""
    track = midi.MidiTrack(index=0)
    tempo = midi.MidiEvent(track, type=midi.MetaEvents.SET_TEMPO)
    tempo.data = _MICROSECONDS_PER_QUARTER.to_bytes(3, "big")
    events = [(0, _ORDER_META, 0, tempo)]
    for channel, program in sorted(notes.programs.items()):
        change = _event(track, midi.ChannelVoiceMessages.PROGRAM_CHANGE, channel)
        change.data = int(program)
        events.append((0, _ORDER_PROGRAM, channel, change))
    start, end = _no_overlaps(notes)
    for i in range(len(notes)):
        channel, pitch = int(notes.channel[i]), int(notes.pitch[i])
        on = _event(track, midi.ChannelVoiceMessages.NOTE_ON, channel)
        on.pitch, on.velocity = pitch, int(notes.velocity[i])
        off = _event(track, midi.ChannelVoiceMessages.NOTE_OFF, channel)
        off.pitch, off.velocity = pitch, 0
        events += [(int(start[i]), _ORDER_ON, i, on), (int(end[i]), _ORDER_OFF, i, off)]
    events.sort(key=lambda item: item[:3])
    last = 0
    for tick, _, _, event in events:
        track.events += [midi.DeltaTime(track, time=tick - last), event]
        last = tick
    end_of_track = midi.MidiEvent(track, type=midi.MetaEvents.END_OF_TRACK)
    end_of_track.data = b""
    track.events += [midi.DeltaTime(track, time=0), end_of_track]
    midi_file = midi.MidiFile()
    midi_file.ticksPerQuarterNote = _TICKS_PER_QUARTER
    midi_file.tracks.append(track)
    midi_file.open(str(path), "wb")
    try:
        midi_file.write()
    finally:
        midi_file.close()
