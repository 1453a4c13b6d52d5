"""One version of a work: what it draws from its own stream, independently of the work (key,
tempo, voices, arrangement, octave, articulation, noise, loudness, prelude and outro), and its
audio. Streams are `numpy.random.default_rng([seed, work_idx, version_idx, purpose])`, so a
version depends on the seed, the settings and its own indices only."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from coverhunter.corpora.recording import NOISE_COLOURS, fade, finish_recording
from coverhunter.corpora.synthetic.arrangement import ARRANGEMENTS
from coverhunter.corpora.synthetic.composition import Work, compose_work
from coverhunter.corpora.synthetic.config import SyntheticConfig
from coverhunter.corpora.synthetic.performance import NoteCache, Performance, render_section
from coverhunter.corpora.synthetic.voices import VOICES

# Purposes of the random streams: [seed, work_idx, version_idx, purpose].
_WORK_MUSIC, _WORK_VERSIONS, _VERSION_PLAN, _PRELUDE_MUSIC, _OUTRO_MUSIC, _VERSION_RENDER = range(6)
_MELODY_OCTAVES, _MELODY_OCTAVE_WEIGHTS = (-1, 0, 1), (0.2, 0.6, 0.2)


@dataclass(frozen=True)
class VersionPlan:
    """Everything that decides one version's audio, drawn before any audio is made."""

    work_idx: int
    version_idx: int
    work: Work
    performance: Performance
    key_shift: int
    snr_db: float
    noise: str
    peak_db: float
    prelude_n: int  # samples of unrelated music before the shared material
    shared_n: int
    outro_n: int

    @property
    def work_id(self) -> str:
        return f"syn_w{self.work_idx:04d}"

    @property
    def perf_id(self) -> str:
        return f"{self.work_id}_p{self.version_idx:02d}"

    @property
    def n_samples(self) -> int:
        return self.prelude_n + self.shared_n + self.outro_n


def _rng(seed: int, work_idx: int, version_idx: int, purpose: int) -> np.random.Generator:
    return np.random.default_rng([seed, work_idx, version_idx, purpose])


def _compose(config: SyntheticConfig, rng: np.random.Generator) -> Work:
    return compose_work(rng, config.min_bars, config.max_bars, config.min_bpm, config.max_bpm)


def _section_lengths(config: SyntheticConfig, rng: np.random.Generator) -> tuple[int, int, int]:
    """Samples of prelude, shared music and outro; they add up to a 30-120 s (default) whole."""
    sr = config.sample_rate
    total_n = round(rng.uniform(config.min_duration_s, config.max_duration_s) * sr)
    prelude_s = rng.uniform(0.0, config.max_prelude_s) if rng.random() < config.p_prelude else 0.0
    outro_s = rng.uniform(0.0, config.max_outro_s) if rng.random() < config.p_outro else 0.0
    # Rounding down keeps the shared music at min_shared_fraction or more, to the sample.
    scale = min(
        1.0, (1.0 - config.min_shared_fraction) * total_n / max((prelude_s + outro_s) * sr, 1)
    )
    prelude_n, outro_n = math.floor(prelude_s * sr * scale), math.floor(outro_s * sr * scale)
    return prelude_n, total_n - prelude_n - outro_n, outro_n


def _plan_version(
    config: SyntheticConfig, seed: int, work: Work, work_idx: int, version_idx: int
) -> VersionPlan:
    rng = _rng(seed, work_idx, version_idx, _VERSION_PLAN)
    key_shift = int(rng.integers(-config.max_key_shift, config.max_key_shift + 1))
    log_tempo = rng.uniform(math.log(config.min_tempo), math.log(config.max_tempo))
    performance = Performance(
        key=(work.tonic + key_shift) % 12,
        tempo=float(math.exp(log_tempo)),
        melody_voice=str(rng.choice(VOICES)),
        accomp_voice=str(rng.choice(VOICES)),
        arrangement=str(rng.choice(ARRANGEMENTS)),
        inversion=int(rng.integers(3)),
        melody_octave=int(rng.choice(_MELODY_OCTAVES, p=_MELODY_OCTAVE_WEIGHTS)),
        articulation=float(rng.uniform(config.min_articulation, 1.0)),
        accomp_gain=float(10.0 ** (rng.uniform(config.min_accomp_db, config.max_accomp_db) / 20)),
        timing_jitter_s=config.timing_jitter_s,
        velocity_jitter=config.velocity_jitter,
        melody_variation=config.melody_variation,
    )
    snr_db = float(rng.uniform(config.min_snr_db, config.max_snr_db))
    noise = NOISE_COLOURS[int(rng.random() < config.p_pink_noise)]
    peak_db = float(rng.uniform(config.min_peak_db, config.max_peak_db))
    prelude_n, shared_n, outro_n = _section_lengths(config, rng)
    return VersionPlan(
        work_idx=work_idx,
        version_idx=version_idx,
        work=work,
        performance=performance,
        key_shift=key_shift,
        snr_db=snr_db,
        noise=noise,
        peak_db=peak_db,
        prelude_n=prelude_n,
        shared_n=shared_n,
        outro_n=outro_n,
    )


def plan_work(config: SyntheticConfig, seed: int, work_idx: int) -> list[VersionPlan]:
    """The versions of one work; depends on the seed, the settings and `work_idx` only."""
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    counts = _rng(seed, work_idx, 0, _WORK_VERSIONS)
    n_versions = int(counts.integers(config.min_versions, config.max_versions + 1))
    work = _compose(config, _rng(seed, work_idx, 0, _WORK_MUSIC))
    return [_plan_version(config, seed, work, work_idx, v) for v in range(n_versions)]


def plan_collection(config: SyntheticConfig, seed: int) -> list[VersionPlan]:
    """Every version's plan, works in order; cheap (no audio)."""
    return [plan for w in range(config.n_works) for plan in plan_work(config, seed, w)]


def render_version(plan: VersionPlan, config: SyntheticConfig, seed: int) -> np.ndarray:
    """The version's audio `(S,)` float32: prelude, shared music, outro, noise, loudness."""
    sr = config.sample_rate
    rng = _rng(seed, plan.work_idx, plan.version_idx, _VERSION_RENDER)
    cache: NoteCache = {}
    join = round(config.section_fade_s * sr)
    layout = ((plan.prelude_n, _PRELUDE_MUSIC), (plan.shared_n, None), (plan.outro_n, _OUTRO_MUSIC))
    sections = []
    for n, purpose in layout:
        if n == 0:
            continue
        if purpose is None:
            work, performance = plan.work, plan.performance
        else:  # unrelated music, played by the same band in its own key
            work = _compose(config, _rng(seed, plan.work_idx, plan.version_idx, purpose))
            performance = replace(plan.performance, key=work.tonic)
        section = render_section(work, performance, n, sr, rng, cache)
        sections.append(fade(section, join, join))
    audio = np.concatenate(sections)
    return finish_recording(
        audio, sr, config.end_fade_s, plan.snr_db, plan.noise, plan.peak_db, rng
    )
