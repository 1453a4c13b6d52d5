"""The synthetic collection's settings: its size and durations, preludes and outros, key,
tempo, bars, noise, loudness, articulation, variation. `n_jobs` changes nothing but speed."""

from __future__ import annotations

from dataclasses import dataclass

from coverhunter.corpora.config_checks import check_collection_size, config_check


@dataclass(frozen=True)
class SyntheticConfig:
    """Size and difficulty of the synthetic collection; `n_jobs` only sets the worker count."""

    n_works: int = 120
    min_versions: int = 3
    max_versions: int = 6
    min_duration_s: float = 30.0
    max_duration_s: float = 120.0
    sample_rate: int = 16000
    max_prelude_s: float = 30.0  # prelude / outro of unrelated music, 0 to this long
    max_outro_s: float = 30.0
    p_prelude: float = 0.7
    p_outro: float = 0.5
    min_shared_fraction: float = 0.5  # prelude and outro shrink to leave this much shared music
    max_key_shift: int = 6  # semitones either way
    min_tempo: float = 0.8  # factors on the work's own tempo, drawn log-uniformly
    max_tempo: float = 1.25
    min_bpm: float = 75.0  # a work's own tempo
    max_bpm: float = 135.0
    min_bars: int = 4  # bars per phrase; a work's core is two phrases
    max_bars: int = 8
    min_snr_db: float = 0.0
    max_snr_db: float = 30.0
    p_pink_noise: float = 0.5  # otherwise white
    min_peak_db: float = -12.0  # loudness: the recording's peak in dBFS
    max_peak_db: float = -1.0
    min_accomp_db: float = -12.0  # accompaniment level relative to the melody
    max_accomp_db: float = -4.0
    min_articulation: float = 0.6  # fraction of its written length a note is held
    timing_jitter_s: float = 0.01
    velocity_jitter: float = 0.15
    melody_variation: float = 0.1  # chance a melody note is changed or dropped in a version
    section_fade_s: float = 0.01  # at the joins of prelude, shared music and outro
    end_fade_s: float = 2.0
    n_jobs: int = 2

    def __post_init__(self) -> None:
        check = config_check(self)
        check_collection_size(self)
        check(self.max_prelude_s >= 0, "max_prelude_s", "must be >= 0")
        check(self.max_outro_s >= 0, "max_outro_s", "must be >= 0")
        for name in ("p_prelude", "p_outro", "p_pink_noise"):
            check(0 <= getattr(self, name) <= 1, name, "must be a probability")
        check(0 < self.min_shared_fraction <= 1, "min_shared_fraction", "must be in (0, 1]")
        check(0 <= self.max_key_shift <= 11, "max_key_shift", "must be 0-11")
        check(self.min_tempo > 0, "min_tempo", "must be positive")
        check(self.max_tempo >= self.min_tempo, "max_tempo", "must be >= min_tempo")
        check(self.min_bpm > 0, "min_bpm", "must be positive")
        check(self.max_bpm >= self.min_bpm, "max_bpm", "must be >= min_bpm")
        check(self.min_bars >= 2, "min_bars", "must be >= 2 (A and A' differ in the last two)")
        check(self.max_bars >= self.min_bars, "max_bars", "must be >= min_bars")
        check(self.max_snr_db >= self.min_snr_db, "max_snr_db", "must be >= min_snr_db")
        check(self.max_peak_db < 0, "max_peak_db", "must be below 0 dBFS (no clipping)")
        check(self.min_peak_db <= self.max_peak_db, "min_peak_db", "must be <= max_peak_db")
        check(self.min_accomp_db <= self.max_accomp_db, "min_accomp_db", "<= max_accomp_db")
        check(0 < self.min_articulation <= 1, "min_articulation", "must be in (0, 1]")
        check(self.timing_jitter_s >= 0, "timing_jitter_s", "must be >= 0")
        check(0 <= self.velocity_jitter < 1, "velocity_jitter", "must be in [0, 1)")
        check(0 <= self.melody_variation <= 1, "melody_variation", "must be a probability")
        check(self.n_jobs >= 1, "n_jobs", "must be >= 1")
