"""The rendered corpus's settings: its size and durations, the excerpts, the fillers of
preludes and outros, the ensembles, tempo, key, rubato, room, noise and loudness, FluidSynth,
and what versions change as covers do (`cover.py`). `n_jobs` changes nothing but speed."""

from __future__ import annotations

from dataclasses import dataclass, field

from coverhunter.corpora.config_checks import check_collection_size, config_check
from coverhunter.corpora.rendered_corpus.arrangement import ENSEMBLES
from coverhunter.corpora.rendered_corpus.cover import CoverSettings, cover_settings


@dataclass(frozen=True)
class RenderedCorpusConfig:
    """Size and difficulty of the rendered collection; `n_jobs` only sets the worker count."""

    n_works: int = 100
    min_versions: int = 3
    max_versions: int = 5
    min_duration_s: float = 30.0  # a recording's length, prelude and outro included
    max_duration_s: float = 60.0
    sample_rate: int = 16000
    min_excerpt_s: float = 10.0  # pieces shorter than this at their own tempo are skipped
    max_excerpt_s: float = 40.0  # longer pieces are cut to an excerpt of whole bars
    p_excerpt_from_start: float = 0.5  # otherwise the excerpt starts at a bar drawn at random
    max_score_kb: float = 1000.0  # bigger score files (whole quartets) take long to parse
    n_fillers: int = 40  # pieces set aside for preludes and outros; never works
    max_prelude_s: float = 15.0
    max_outro_s: float = 10.0
    p_prelude: float = 0.6
    p_outro: float = 0.4
    min_shared_fraction: float = 0.6  # prelude and outro shrink to leave this much of the work
    ensembles: tuple[str, ...] = tuple(ENSEMBLES)
    min_tempo: float = 0.8  # factors on the piece's tempo, drawn log-uniformly
    max_tempo: float = 1.25
    min_bpm: float = 70.0  # beats a minute of a piece whose score has no tempo mark
    max_bpm: float = 130.0
    max_key_shift: int = 6  # semitones either way
    p_octave_move: float = 0.2  # chance that a voice moves an octave
    timing_jitter_s: float = 0.012  # standard deviation of onset errors
    max_rubato: float = 0.06  # the local tempo deviates by up to this fraction
    min_rubato_period_s: float = 4.0
    max_rubato_period_s: float = 12.0
    min_legato: float = 0.7  # fraction of its written length that a note is held
    velocity_jitter: float = 0.15
    p_reverb: float = 0.8
    min_rt60_s: float = 0.2
    max_rt60_s: float = 1.5
    max_reverb_wet: float = 0.5
    min_snr_db: float = 0.0
    max_snr_db: float = 30.0
    p_pink_noise: float = 0.5  # otherwise white
    min_peak_db: float = -12.0
    max_peak_db: float = -1.0
    end_fade_s: float = 1.0
    synth_gain: float = 0.3  # FluidSynth's master gain; loudness is set afterwards
    soundfont: str | None = None  # a General-MIDI .sf2; None finds Debian's (see fluidsynth.py)
    fluidsynth: str = "fluidsynth"  # the FluidSynth program
    n_jobs: int = 2
    # What versions change as covers do (a mapping of its fields in the parameters).
    cover: CoverSettings = field(default_factory=CoverSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ensembles", tuple(self.ensembles))
        object.__setattr__(self, "cover", cover_settings(self.cover))

        check = config_check(self)
        check_collection_size(self)
        check(self.min_excerpt_s > 0, "min_excerpt_s", "must be positive")
        check(self.max_excerpt_s >= self.min_excerpt_s, "max_excerpt_s", ">= min_excerpt_s")
        check(self.max_score_kb > 0, "max_score_kb", "must be positive")
        check(self.n_fillers >= 1, "n_fillers", "must be >= 1")
        check(self.max_prelude_s >= 0, "max_prelude_s", "must be >= 0")
        check(self.max_outro_s >= 0, "max_outro_s", "must be >= 0")
        for name in (
            "p_excerpt_from_start", "p_prelude", "p_outro", "p_octave_move", "p_reverb", "p_pink_noise",
        ):  # fmt: skip
            check(0 <= getattr(self, name) <= 1, name, "must be a probability")
        check(0 < self.min_shared_fraction <= 1, "min_shared_fraction", "must be in (0, 1]")
        unknown = sorted(set(self.ensembles) - set(ENSEMBLES))
        check(bool(self.ensembles) and not unknown, "ensembles", f"choose from {list(ENSEMBLES)}")
        check(self.min_tempo > 0, "min_tempo", "must be positive")
        check(self.max_tempo >= self.min_tempo, "max_tempo", "must be >= min_tempo")
        check(self.min_bpm > 0, "min_bpm", "must be positive")
        check(self.max_bpm >= self.min_bpm, "max_bpm", "must be >= min_bpm")
        check(0 <= self.max_key_shift <= 11, "max_key_shift", "must be 0-11")
        check(self.timing_jitter_s >= 0, "timing_jitter_s", "must be >= 0")
        check(0 <= self.max_rubato < 1, "max_rubato", "must be in [0, 1)")
        check(self.min_rubato_period_s > 0, "min_rubato_period_s", "must be positive")
        check(
            self.max_rubato_period_s >= self.min_rubato_period_s,
            "max_rubato_period_s",
            "must be >= min_rubato_period_s",
        )
        check(0 < self.min_legato <= 1, "min_legato", "must be in (0, 1]")
        check(0 <= self.velocity_jitter < 1, "velocity_jitter", "must be in [0, 1)")
        check(self.min_rt60_s > 0, "min_rt60_s", "must be positive")
        check(self.max_rt60_s >= self.min_rt60_s, "max_rt60_s", "must be >= min_rt60_s")
        check(0 <= self.max_reverb_wet <= 1, "max_reverb_wet", "must be in [0, 1]")
        check(self.max_snr_db >= self.min_snr_db, "max_snr_db", "must be >= min_snr_db")
        check(self.max_peak_db < 0, "max_peak_db", "must be below 0 dBFS (no clipping)")
        check(self.min_peak_db <= self.max_peak_db, "min_peak_db", "must be <= max_peak_db")
        check(self.end_fade_s >= 0, "end_fade_s", "must be >= 0")
        check(self.synth_gain > 0, "synth_gain", "must be positive")
        check(self.n_jobs >= 1, "n_jobs", "must be >= 1")
