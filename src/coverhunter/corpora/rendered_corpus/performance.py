"""Playing voices in time: tempo, rubato, human onset errors and note lengths, in seconds.

Quarter notes become seconds at the version's tempo, bent by a slow rubato (the tempo swells and
relaxes by up to `rubato_depth` over `rubato_period_s`), with each onset off by a little normal
noise, as a human player's are. Drums keep the bent tempo but are held for their written length.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from coverhunter.corpora.rendered_corpus.arrangement import Voice
from coverhunter.corpora.rendered_corpus.midi_file import DRUM_CHANNEL, MidiNotes


@dataclass(frozen=True)
class Timing:
    """How one version places notes in time."""

    quarter_s: float  # seconds per quarter note at the version's tempo
    rubato_depth: float  # the local tempo deviates by up to this fraction, e.g. 0.05
    rubato_period_s: float  # one swell and relaxation of the tempo
    rubato_phase: float  # radians
    jitter_s: float  # standard deviation of onset errors
    legato: float  # fraction of its written length that a note is held, (0, 1]

    def __post_init__(self) -> None:
        if self.quarter_s <= 0 or self.rubato_period_s <= 0:
            raise ValueError(f"quarter_s and rubato_period_s must be positive: {self}")
        if not 0 <= self.rubato_depth < 1 or not 0 < self.legato <= 1:
            raise ValueError(f"rubato_depth must be in [0, 1), legato in (0, 1]: {self}")


def warp(quarters: np.ndarray, timing: Timing) -> np.ndarray:
    """Seconds at which `quarters` (any shape) sound: steady tempo bent by the rubato.

    `t + a * (sin(w t + phase) - sin(phase))` with `a * w = depth < 1`: starts at 0 and only
    moves forward, so the order of notes never changes.
    """
    steady = np.asarray(quarters, dtype=np.float64) * timing.quarter_s
    omega = 2.0 * math.pi / timing.rubato_period_s
    amplitude = timing.rubato_depth / omega
    bend = np.sin(omega * steady + timing.rubato_phase) - math.sin(timing.rubato_phase)
    return steady + amplitude * bend


def assign_channels(programs: Iterable[int]) -> dict[int, int]:
    """program -> MIDI channel (0-15 but the drum channel): one channel per program, so a band
    keeps its channels through prelude, work and outro."""
    distinct = sorted(set(programs))
    free = [c for c in range(16) if c != DRUM_CHANNEL]
    if len(distinct) > len(free):
        raise ValueError(f"{len(distinct)} programs need more than {len(free)} MIDI channels")
    return dict(zip(distinct, free, strict=False))


def perform(
    voices: list[Voice],
    timing: Timing,
    length_s: float,
    velocity_jitter: float,
    channels: dict[int, int],
    rng: np.random.Generator,
) -> MidiNotes:
    """The voices as MIDI notes in seconds from 0, cut at `length_s` (notes starting later are
    left out, notes sounding past it are cut short); `channels` maps programs to channels."""
    parts = []
    for voice in voices:
        if not len(voice.notes):
            continue
        onset_q, length_q, pitch = voice.notes.T
        start = warp(onset_q, timing)
        end = warp(onset_q + length_q * (1.0 if voice.drums else timing.legato), timing)
        noise = rng.normal(0.0, timing.jitter_s, len(start))
        start, end = np.maximum(start + noise, 0.0), end + noise
        velocity = voice.velocity * (
            1.0 + rng.uniform(-velocity_jitter, velocity_jitter, len(start))
        )
        channel = DRUM_CHANNEL if voice.drums else channels[voice.program]
        keep = start < length_s
        parts.append(
            MidiNotes(
                start_s=start[keep],
                end_s=np.clip(end[keep], start[keep] + 1e-3, length_s),
                pitch=pitch[keep].astype(np.int64),
                velocity=np.clip(np.round(velocity[keep]), 1, 127).astype(np.int64),
                channel=np.full(int(keep.sum()), channel, dtype=np.int64),
                programs={channel: voice.program} if not voice.drums else {},
            )
        )
    return MidiNotes.concat(parts)
