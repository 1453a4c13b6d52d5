"""The synthetic collection (what the tests use): seeded synthetic cover songs, rendered to FLAC.

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
import multiprocessing
import re
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, fields
from pathlib import Path

import pandas as pd

from coverhunter.corpora.generator_record import new_record, read_record, write_record
from coverhunter.corpora.recording import encode_flac
from coverhunter.corpora.synthetic.config import SyntheticConfig
from coverhunter.corpora.synthetic.versions import VersionPlan, plan_work, render_version
from coverhunter.data.atomic import write_bytes_atomically
from coverhunter.data.sources.folder import recording_path

logger = logging.getLogger(__name__)

# Bump when the same request would render different audio, so cached collections are redone.
GENERATOR_VERSION = 1
_WORK_DIR = re.compile(r"^syn_w\d+$")


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
    record = read_record(root, "synthetic collection")
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
        write_record(root, new_record(request, asdict(config), seed, files, files=files))
    return ground_truth(plans, config.sample_rate)
