"""The embedded default collection: seeded synthetic cover songs, rendered to FLAC.

Each work is composed from its own random stream (melody, chords, metre, tempo, swing; see
`composition.py`). Each version of it draws, from its own stream and independently of the
work, a key, a tempo factor, two voices (melody, accompaniment), an arrangement, an octave, an
articulation, a loudness, a noise level and colour, and usually a prelude and/or an outro of
unrelated music played the same way. So works cannot be told apart by timbre, tempo or key; only
the melody and harmony are shared, and they start `true_offset_s` (the prelude's length) into
each recording.

Streams are `numpy.random.default_rng([seed, work_idx, version_idx, purpose])`, so a work's files
depend on the seed, the rendering settings and its own index only: growing `n_works` leaves the
existing files byte-identical, and `n_jobs` never changes a byte.

Layout: the `folder` layout, `root/<work_id>/<perf_id>.flac` (16-bit FLAC; read back with the
ground truth by `data/sources/generated.py`), and `root/collection.json`, which records
the request (seed, settings, generator version), each file's size and SHA-256, and a fingerprint
of them all. A later call with the same request re-renders only missing or resized files.
"""

from __future__ import annotations

import hashlib
import logging
import math
import multiprocessing
import re
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd

from coverhunter.corpora.config_checks import check_collection_size, config_check
from coverhunter.corpora.generator_record import (
    RECORD_FILE,
    fingerprint,
    read_generator_record,
    write_generator_record,
)
from coverhunter.corpora.recording import NOISE_COLOURS, encode_flac, fade, finish_recording
from coverhunter.corpora.synthetic.arrangement import ARRANGEMENTS
from coverhunter.corpora.synthetic.composition import Work, compose_work
from coverhunter.corpora.synthetic.render import NoteCache, Performance, render_section
from coverhunter.corpora.synthetic.voices import VOICES
from coverhunter.data.atomic import write_bytes_atomically
from coverhunter.data.sources.folder import recording_path

logger = logging.getLogger(__name__)

# Bump when the same request would render different audio, so cached collections are redone.
GENERATOR_VERSION = 1
_WORK_DIR = re.compile(r"^syn_w\d+$")

# Purposes of the random streams: [seed, work_idx, version_idx, purpose].
_WORK_MUSIC, _WORK_VERSIONS, _VERSION_PLAN, _PRELUDE_MUSIC, _OUTRO_MUSIC, _VERSION_RENDER = range(6)
_MELODY_OCTAVES, _MELODY_OCTAVE_WEIGHTS = (-1, 0, 1), (0.2, 0.6, 0.2)


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


def _render_work(
    plans: list[VersionPlan], config: SyntheticConfig, seed: int, root: Path
) -> dict[str, dict]:
    """Render and write one work's versions; {perf_id: {"bytes": .., "sha256": ..}}."""
    records = {}
    for plan in plans:
        data = encode_flac(render_version(plan, config, seed), config.sample_rate)
        write_bytes_atomically(recording_path(root, plan.work_id, plan.perf_id, "flac"), data)
        records[plan.perf_id] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return records


def _render_works(
    work_plans: list[list[VersionPlan]], config: SyntheticConfig, seed: int, root: Path
) -> dict[str, dict]:
    """Render works in `config.n_jobs` processes, logging progress; file records by perf_id."""
    records: dict[str, dict] = {}
    step = max(1, len(work_plans) // 10)
    if config.n_jobs == 1:
        results = (_render_work(plans, config, seed, root) for plans in work_plans)
        executor = None
    else:
        # Spawned, not forked: a fork of a threaded parent (Kedro, MLflow) can deadlock.
        context = multiprocessing.get_context("spawn")
        executor = ProcessPoolExecutor(max_workers=config.n_jobs, mp_context=context)
        futures = [executor.submit(_render_work, p, config, seed, root) for p in work_plans]
        results = (future.result() for future in futures)
    try:
        for done, result in enumerate(results, start=1):
            records.update(result)
            if done % step == 0 or done == len(work_plans):
                logger.info("synthetic collection: rendered %d/%d works", done, len(work_plans))
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    return records


def _request(config: SyntheticConfig, seed: int) -> dict:
    """What decides the audio of a work (its index aside): n_works and n_jobs do not."""
    settings = {f.name: getattr(config, f.name) for f in fields(config)}
    del settings["n_jobs"], settings["n_works"]
    return {"generator_version": GENERATOR_VERSION, "seed": seed, "settings": settings}


def _reusable(plans: list[VersionPlan], root: Path, files: dict[str, dict]) -> bool:
    """All of a work's files were recorded for this request and are still there, same size."""
    for plan in plans:
        record = files.get(plan.perf_id)
        path = recording_path(root, plan.work_id, plan.perf_id, "flac")
        if record is None or not path.is_file() or path.stat().st_size != record["bytes"]:
            return False
    return True


def ground_truth(plans: list[VersionPlan], sample_rate: int) -> pd.DataFrame:
    """One row per performance, sorted by perf_id: ids, where the shared music starts, and how
    the version was made (key, tempo, voices, arrangement, noise, section lengths)."""
    rows = []
    for plan in plans:
        performance = plan.performance
        row = {
            "perf_id": plan.perf_id,
            "work_id": plan.work_id,
            "true_offset_s": plan.prelude_n / sample_rate,
            "duration_s": plan.n_samples / sample_rate,
            "prelude_s": plan.prelude_n / sample_rate,
            "shared_s": plan.shared_n / sample_rate,
            "outro_s": plan.outro_n / sample_rate,
            "key_shift": plan.key_shift,
            "key": performance.key,
            "mode": plan.work.mode,
            "tempo": performance.tempo,
            "bpm": plan.work.bpm * performance.tempo,
            "voice": performance.melody_voice,
            "accomp_voice": performance.accomp_voice,
            "arrangement": performance.arrangement,
            "melody_octave": performance.melody_octave,
            "snr_db": plan.snr_db,
            "noise": plan.noise,
            "peak_db": plan.peak_db,
            "sample_rate": sample_rate,
        }
        rows.append(row)
    return pd.DataFrame(rows).sort_values("perf_id", ignore_index=True)


def generate_synthetic_collection(root: Path, config: SyntheticConfig, seed: int) -> pd.DataFrame:
    """Render (or find already rendered) the synthetic collection under `root`, in the `folder`
    layout (`root/<work_id>/<perf_id>.flac`); its ground truth (`ground_truth`).

    `root` belongs to the generator: `syn_w*` folders that the request does not produce are
    removed. Works already on disk from the same request (seed, settings, generator version)
    are kept as they are; the rest are rendered in `config.n_jobs` processes.
    """
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    work_plans = [plan_work(config, seed, w) for w in range(config.n_works)]
    plans = [plan for work in work_plans for plan in work]
    request = _request(config, seed)
    record = read_generator_record(root / RECORD_FILE, "synthetic collection")
    known = record.get("files", {}) if record and record.get("request") == request else {}

    wanted = {work[0].work_id for work in work_plans}
    for folder in root.iterdir():
        if folder.is_dir() and _WORK_DIR.match(folder.name) and folder.name not in wanted:
            shutil.rmtree(folder)
    files = {}
    to_render = []
    for work in work_plans:
        if _reusable(work, root, known):
            files.update({plan.perf_id: known[plan.perf_id] for plan in work})
        else:
            shutil.rmtree(root / work[0].work_id, ignore_errors=True)
            to_render.append(work)

    if to_render:
        started = time.perf_counter()
        logger.info(
            "synthetic collection: rendering %d of %d works into %s (%d jobs)",
            len(to_render),
            len(work_plans),
            root,
            config.n_jobs,
        )
        files.update(_render_works(to_render, config, seed, root))
        logger.info("synthetic collection: rendered in %.1f s", time.perf_counter() - started)
    if to_render or record is None or record.get("files") != files:
        content = {
            "request": request,
            "config": asdict(config),
            "seed": seed,
            "fingerprint": fingerprint(files),
            "files": files,
        }
        write_generator_record(root / RECORD_FILE, content)
    return ground_truth(plans, config.sample_rate)
