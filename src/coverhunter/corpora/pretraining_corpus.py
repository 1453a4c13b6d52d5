"""A pretraining collection at scale: thousands of music21 corpus works, straight to features.

The works are rendered as the default collection's are (`rendered_corpus/`: the same cover
variation, ensembles, tempo, key, preludes and outros, room and noise), by default every usable
piece of the corpus (~14,000) in 4-6 versions each, but only their log-CQT is kept: each worker
process renders one work (`rendered_corpus/versions.py`, `render_work_audio`), rounds every
version to the 16-bit samples its FLAC file holds, peak-normalises it and computes its log-CQT on
the CPU (`torch.set_num_threads(1)` per worker), and sends the parent the table rows and float16
arrays; the parent appends them to the feature store and commits every `commit_every` works.
With `keep_audio` the versions are also written as FLAC under `audio_root/<work_id>/` (the
features are the same either way: what `feature_cqt` would compute from those files).

Never heard here: anything by Bach (left out of the corpus candidates and refused after parsing,
see `rendered_corpus/corpus_pieces.py`), and none of the default collection's works (its test
works must stay unheard), neither as works nor as preludes or outros; its prelude/outro pieces
are not works here either. Which pieces those are is found by replaying the default collection's selection (its
settings and seed: the first `n_works` usable pieces of its candidate order, each parsed), cached
in the store folder.

Works are the pretraining's own candidate order (`select_candidates` with its settings and the
project seed), the default collection's pieces passed over; `work_idx` (a work's rank) is its
place in that order, so the audio of a work does not depend on `n_works`, `n_jobs` or what was
excluded before it.

Resuming: every version's feature row carries a fingerprint of the render request (settings,
seed, soundfont, FluidSynth and music21 versions, filler pieces, CQT settings), the work and its
rank and the version. Next to the store's index, `pretraining_rows.parquet` holds the table rows
of the works written so far and `pretraining_corpus.json` the pieces that failed to parse (and
the default collection's pieces); both are written just before each commit. A run skips every
work whose rows are recorded and whose versions are all in the index with the expected
fingerprint, so a build killed at any point (SIGKILL, a power cut) resumes at its last commit;
stopped by Ctrl-C or SIGTERM (`kill PID`), or failing, it first commits every work it finished.

The table (`build_pretraining_corpus`) has the `TABLE_COLUMNS`: the rendered corpus's ground truth
and `path` (empty unless `keep_audio`); `pretraining_manifest` makes it a manifest with a work-level split:
`val_fraction` of the works (at least `min_val_works`) for validation, the rest train, no test
split (the test works are the default collection's).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import math
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import music21
import numpy as np
import pandas as pd
import soundfile as sf
import torch
from tqdm.auto import tqdm

from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt_batch
from coverhunter.audio.io import peak_normalise
from coverhunter.corpora.recording import encode_flac
from coverhunter.corpora.rendered_corpus.collection import GENERATOR_VERSION, render_request
from coverhunter.corpora.rendered_corpus.config import RenderedCorpusConfig
from coverhunter.corpora.rendered_corpus.corpus_pieces import Candidate, PieceError, is_bach
from coverhunter.corpora.rendered_corpus.fluidsynth import find_fluidsynth, find_soundfont
from coverhunter.corpora.rendered_corpus.scheduler import WorkScheduler, render_in_order
from coverhunter.corpora.rendered_corpus.versions import GROUND_TRUTH_COLUMNS, render_work_audio
from coverhunter.corpora.rendered_corpus.works import plan_work, select_candidates, work_id_of
from coverhunter.data.atomic import write_bytes_atomically
from coverhunter.data.feature_store import FeatureStore, FeatureStoreWriter
from coverhunter.data.manifest import finalise_manifest, work_hash_fraction
from coverhunter.data.sources.folder import recording_path

logger = logging.getLogger(__name__)

# Bump when the same request would give different features, so stored ones are recomputed.
PRETRAINING_VERSION = 1
STATE_FILE = "pretraining_corpus.json"
ROWS_FILE = "pretraining_rows.parquet"
# The table: the ground truth of the rendered corpus, with `path` after the ids.
TABLE_COLUMNS = (*GROUND_TRUTH_COLUMNS[:2], "path", *GROUND_TRUTH_COLUMNS[2:])
_ROW_EXTRA = ("rank", "fingerprint")  # kept beside the table's columns in ROWS_FILE


@dataclass(frozen=True)
class PretrainingCorpusConfig:
    """How big the build is and how it runs; how works are rendered is a `RenderedCorpusConfig`."""

    n_works: int | None = None  # None: every usable piece of the corpus
    val_fraction: float = 0.03  # works for validation (recipe selection)
    min_val_works: int = 100  # at least this many validation works (one work stays train)
    n_jobs: int | None = None  # worker processes; None: every core this process may use
    commit_every: int = 100  # works between two commits of the feature store
    keep_audio: bool = False  # also write each version as FLAC under audio_root
    audio_root: str | None = None

    def __post_init__(self) -> None:
        def check(ok: bool, name: str, rule: str) -> None:
            if not ok:
                raise ValueError(f"pretrain_corpus.{name}={getattr(self, name)!r}: {rule}")

        check(self.n_works is None or self.n_works >= 1, "n_works", "'all' or a number >= 1")
        check(0 <= self.val_fraction < 1, "val_fraction", "must be in [0, 1)")
        check(self.min_val_works >= 0, "min_val_works", "must be >= 0")
        check(self.n_jobs is None or self.n_jobs >= 1, "n_jobs", "null (every core) or >= 1")
        check(self.commit_every >= 1, "commit_every", "must be >= 1")
        check(not self.keep_audio or bool(self.audio_root), "audio_root", "needed by keep_audio")

    @property
    def workers(self) -> int:
        return self.n_jobs if self.n_jobs is not None else len(os.sched_getaffinity(0))


def pretraining_settings(
    pretrain_corpus: Mapping[str, Any], rendered_corpus: Mapping[str, Any]
) -> tuple[PretrainingCorpusConfig, RenderedCorpusConfig, RenderedCorpusConfig]:
    """The build's settings from the parameters: (build, how it renders, the default collection).

    `pretrain_corpus` holds `PretrainingCorpusConfig` fields (`n_works: all` for every piece) and
    any `RenderedCorpusConfig` field, set over the default collection's `rendered_corpus` (so the
    cover variation is the default's unless set here; a mapping such as `cover` is merged key by
    key). An unknown key is a TypeError naming it.
    """
    default = {k: v for k, v in rendered_corpus.items() if k != "root"}
    own = {f.name for f in fields(PretrainingCorpusConfig)}
    build = {k: v for k, v in pretrain_corpus.items() if k in own}
    if str(build.get("n_works", "all")).lower() == "all":
        build["n_works"] = None
    config = PretrainingCorpusConfig(**build)
    render = {k: v for k, v in default.items() if k != "n_jobs"}
    for key, value in pretrain_corpus.items():
        if key in own:
            continue
        if key == "root":
            raise TypeError(
                "pretrain_corpus.root: the build keeps features; audio goes to audio_root"
            )
        base = render.get(key)
        render[key] = {**base, **value} if isinstance(value, Mapping) and base else value
    render_config = RenderedCorpusConfig(**{**render, "n_jobs": config.workers})
    return config, render_config, RenderedCorpusConfig(**default)


# -- the default collection's pieces ----------------------------------------------------------


def _try_plan(candidate: Candidate, rank: int, config: RenderedCorpusConfig, seed: int) -> dict:
    """Whether `candidate` becomes a work of the collection at `rank` (parses it, renders nothing)."""
    try:
        plan_work(candidate, rank, config, seed)
    except PieceError as error:
        return {"skipped": str(error)}
    return {"piece": candidate.name}


def _selection_key(config: RenderedCorpusConfig, seed: int) -> str:
    """What decides which pieces a rendered collection takes (its settings, seed, music21)."""
    settings = asdict(config)
    del settings["n_jobs"], settings["soundfont"], settings["fluidsynth"]
    text = json.dumps(
        {"generator": GENERATOR_VERSION, "music21": music21.__version__, "seed": seed, **settings},
        sort_keys=True,
        default=list,
    )
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def default_collection_pieces(
    config: RenderedCorpusConfig, seed: int, n_jobs: int
) -> tuple[list[str], list[str]]:
    """(works, fillers): the corpus names of the pieces a rendered collection of `config` uses.

    Replays its selection, parsing its candidates in order until `config.n_works` are usable,
    in `n_jobs` processes (the same pieces whatever `n_jobs`); nothing is rendered.
    """
    order, fillers = select_candidates(config, seed)
    scheduler = WorkScheduler(order, config.n_works, lambda rank, candidate: None, {})
    render_in_order(scheduler, _try_plan, (config, seed), n_jobs, initializer=_one_thread)
    if len(scheduler.done) < config.n_works:
        raise ValueError(
            f"replaying the default collection found only {len(scheduler.done)} usable pieces "
            f"of the {config.n_works} it has"
        )
    works = [scheduler.done[rank]["piece"] for rank in sorted(scheduler.done)]
    return works, [filler.name for filler in fillers]


# -- one work, in a worker ---------------------------------------------------------------------


def _one_thread() -> None:
    """Worker start: one torch thread each, the processes share the cores."""
    torch.set_num_threads(1)


@functools.lru_cache(maxsize=2)
def _extractor(cqt: CQTConfig) -> CQTExtractor:
    return CQTExtractor(cqt)


def version_fingerprint(request_key: str, work_id: str, rank: int, version_idx: int) -> str:
    """The fingerprint a version's feature row carries: request, work, its rank, the version."""
    text = f"{request_key}:{work_id}:{rank}:{version_idx}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def build_work(
    candidate: Candidate,
    rank: int,
    fillers: tuple[Candidate, ...],
    config: RenderedCorpusConfig,
    seed: int,
    soundfont: Path,
    program: str,
    cqt: CQTConfig,
    request_key: str,
    audio_root: Path | None,
) -> dict[str, Any]:
    """Render one work and compute its versions' log-CQT (in the calling process, on the CPU).

    -> {"work_id", "rank", "rows", "features": [(T, F) float16], "fingerprints"}, or
    {"skipped": reason} when the piece cannot be a work. With `audio_root`, the versions are
    also written as FLAC under `audio_root/<work_id>/` and the rows' `path` names them.
    """
    try:
        rows, audio = render_work_audio(candidate, rank, fillers, config, seed, soundfont, program)
    except PieceError as error:
        return {"skipped": str(error)}
    work_id = work_id_of(candidate)
    sr = config.sample_rate
    if audio_root is not None:
        shutil.rmtree(audio_root / work_id, ignore_errors=True)
    signals = []
    for row, samples in zip(rows, audio, strict=True):
        # The samples a FLAC file of the version holds (16 bits), kept or not: the features are
        # what feature_cqt computes from the file.
        data = encode_flac(samples, sr)
        row["path"] = ""
        if audio_root is not None:
            path = recording_path(audio_root, work_id, row["perf_id"], "flac")
            write_bytes_atomically(path, data)
            row["path"] = str(path)
        signals.append(peak_normalise(sf.read(io.BytesIO(data), dtype="float32")[0]))
    features = log_cqt_batch(signals, _extractor(cqt))
    return {
        "work_id": work_id,
        "rank": rank,
        "rows": rows,
        "features": [array.astype(np.float16) for array in features],
        "fingerprints": [
            version_fingerprint(request_key, work_id, rank, v) for v in range(len(rows))
        ],
    }


# -- the build ---------------------------------------------------------------------------------


def _read_state(folder: Path) -> dict:
    try:
        return json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _read_rows(folder: Path) -> pd.DataFrame:
    path = folder / ROWS_FILE
    if not path.exists():
        return pd.DataFrame(columns=[*TABLE_COLUMNS, *_ROW_EXTRA])
    return pd.read_parquet(path)


def _write_rows(records: list[dict], path: Path) -> None:
    rows = [
        {**row, "rank": record["rank"], "fingerprint": fingerprint}
        for record in records
        for row, fingerprint in zip(record["rows"], record["fingerprints"], strict=True)
    ]
    table = pd.DataFrame(rows, columns=[*TABLE_COLUMNS, *_ROW_EXTRA])
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    write_bytes_atomically(path, buffer.getvalue())


def _previous_works(
    rows: pd.DataFrame, index: pd.DataFrame, request_key: str, keep_audio: bool
) -> dict[str, dict]:
    """work_id -> record of every work whose versions are all committed with the right
    fingerprint (and, with `keep_audio`, whose files are there)."""
    committed = dict(zip(index.perf_id, index.fingerprint, strict=True))
    works = {}
    for work_id, group in rows.groupby("work_id", sort=False):
        rank = int(group["rank"].iat[0])
        group = group.sort_values("perf_id")
        expected = [version_fingerprint(request_key, work_id, rank, v) for v in range(len(group))]
        perf_ids = [f"{work_id}_v{v:02d}" for v in range(len(group))]
        intact = (
            group.perf_id.tolist() == perf_ids
            and group.fingerprint.tolist() == expected
            and all(committed.get(p) == f for p, f in zip(perf_ids, expected, strict=True))
            and (not keep_audio or all(p and Path(p).is_file() for p in group.path))
        )
        if intact:
            records = group.drop(columns=list(_ROW_EXTRA)).to_dict("records")
            works[work_id] = {
                "work_id": work_id, "rank": rank, "rows": records, "fingerprints": expected,
            }  # fmt: skip
    return works


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (`kill PID`) stops the build as Ctrl-C does, so what was rendered is committed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Progress:
    """tqdm over works (total, ETA), versions per second, a log line at every commit."""

    def __init__(self, total: int, initial: int):
        tty = sys.stderr.isatty()
        self.bar = tqdm(
            total=total, initial=initial, desc="pretraining corpus", unit="work",
            mininterval=1.0 if tty else 60.0, dynamic_ncols=tty,
        )  # fmt: skip
        self.started = time.perf_counter()
        self.works = self.versions = 0

    def rendered(self, n_versions: int) -> None:
        self.works += 1
        self.versions += n_versions
        rate = self.versions / max(time.perf_counter() - self.started, 1e-9)
        self.bar.set_postfix(versions_s=f"{rate:.2f}", refresh=False)
        self.bar.update(1)

    def unusable(self) -> None:
        """One candidate fewer: when building every piece, the total shrinks."""
        self.bar.total = max(self.bar.n, self.bar.total - 1)

    def log(self) -> None:
        elapsed = time.perf_counter() - self.started
        rate = self.works / max(elapsed, 1e-9)
        left = (self.bar.total - self.bar.n) / rate if rate > 0 else math.inf
        logger.info(
            "pretraining corpus: %d/%d works, %d rendered in %.0f s (%.2f versions/s, "
            "%.2f s a work), about %s left",
            self.bar.n, self.bar.total, self.works, elapsed, self.versions / max(elapsed, 1e-9),
            elapsed / max(self.works, 1), _duration(left),
        )  # fmt: skip

    def close(self) -> None:
        self.bar.close()


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "unknown"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


def build_pretraining_corpus(
    writer: FeatureStoreWriter,
    config: PretrainingCorpusConfig,
    render: RenderedCorpusConfig,
    default_collection: RenderedCorpusConfig,
    cqt: CQTConfig,
    seed: int,
) -> tuple[pd.DataFrame, FeatureStore]:
    """Render the pretraining works into `writer`'s feature store (resuming what is committed).

    -> (the table, one row per version with the `TABLE_COLUMNS`, sorted by perf_id;
    the committed store, holding exactly the table's versions). ValueError when FluidSynth or a
    soundfont is missing, the CQT's sample rate is not the render's, or the corpus has fewer
    usable pieces than `config.n_works`.
    """
    if cqt.sample_rate != render.sample_rate:
        raise ValueError(
            f"feature_cqt.cqt.sample_rate {cqt.sample_rate} differs from the render's "
            f"sample_rate {render.sample_rate}"
        )
    program = find_fluidsynth(render.fluidsynth)
    soundfont = find_soundfont(render.soundfont)
    folder = writer.folder
    state = _read_state(folder)
    n_jobs = config.workers

    # The default collection's pieces: replayed once, then read from the state file.
    selection = _selection_key(default_collection, seed)
    excluded_state = state.get("excluded", {})
    if excluded_state.get("key") != selection:
        started = time.perf_counter()
        # Processes cost seconds to start: one per ten works to find (10 for the default 100).
        replay_jobs = min(n_jobs, max(1, default_collection.n_works // 10))
        works, default_fillers = default_collection_pieces(default_collection, seed, replay_jobs)
        excluded_state = {"key": selection, "works": works, "fillers": default_fillers}
        logger.info(
            "pretraining corpus: the default collection's %d works found in %.1f s",
            len(works), time.perf_counter() - started,
        )  # fmt: skip
    # Its works are never heard here; its prelude/outro pieces may be heard as such, never as works.
    default_works = set(excluded_state["works"])
    excluded = default_works | set(excluded_state["fillers"])

    order, fillers = select_candidates(render, seed)
    fillers = tuple(f for f in fillers if f.name not in default_works)
    if not fillers:
        raise ValueError("every filler piece is a work of the default collection")
    request = {
        "pretraining_version": PRETRAINING_VERSION,
        "render": render_request(render, seed, soundfont, program),
        "fillers": [f.name for f in fillers],
        "cqt": cqt.to_dict(),
        "samples": "16-bit FLAC, peak-normalised",
    }
    request_key = hashlib.blake2b(
        json.dumps(request, sort_keys=True).encode(), digest_size=16
    ).hexdigest()
    unusable = dict(state.get("skipped", {})) if state.get("request_key") == request_key else {}
    previous_rows = _read_rows(folder)
    previous = _previous_works(previous_rows, writer.previous, request_key, config.keep_audio)

    # The default collection's pieces count as unusable, so ranks stay places in the order.
    skipped = {**unusable, **{name: "a piece of the default collection" for name in excluded}}
    candidates = sum(1 for c in order if c.name not in skipped)
    n_works = config.n_works if config.n_works is not None else candidates

    def reuse(rank: int, candidate: Candidate) -> dict | None:
        record = previous.get(work_id_of(candidate))
        return record if record is not None and record["rank"] == rank else None

    scheduler = WorkScheduler(order, n_works, reuse, skipped)
    reusable = sum(1 for rank, c in enumerate(order) if reuse(rank, c) is not None)
    logger.info(
        "pretraining corpus: %d works wanted of %d candidates (%d pieces of the default "
        "collection excluded, %d known unusable), %d already in the store; %d processes",
        n_works, candidates, len(excluded), len(unusable), min(reusable, n_works), n_jobs,
    )  # fmt: skip
    progress = _Progress(n_works, min(reusable, n_works))
    audio_root = Path(config.audio_root).resolve() if config.keep_audio else None
    since_commit = 0

    def commit(final: bool = False) -> None:
        """Rows and state first, then the index: a work counts as done once all three agree."""
        nonlocal since_commit
        done = {record["work_id"]: record for record in scheduler.done.values()}
        # Until the end, works of an earlier, bigger selection are kept for a later run.
        kept = [] if final else [r for w, r in previous.items() if w not in done]
        _write_rows(kept + list(done.values()), folder / ROWS_FILE)
        write_bytes_atomically(
            folder / STATE_FILE,
            json.dumps(
                {"request_key": request_key, "request": request, "excluded": excluded_state,
                 "skipped": {k: v for k, v in scheduler.skipped.items() if k not in excluded}},
                indent=1, sort_keys=True,
            ).encode(),
        )  # fmt: skip
        writer.commit()
        since_commit = 0

    def finished(rank: int, candidate: Candidate, result: dict) -> None:
        nonlocal since_commit
        if "skipped" in result:
            if config.n_works is None:
                progress.unusable()
            return
        features = result.pop("features")  # the record stays in memory, its arrays do not
        for row, array, fingerprint in zip(
            result["rows"], features, result["fingerprints"], strict=True
        ):
            writer.append(row["perf_id"], array, fingerprint)
        progress.rendered(len(result["rows"]))
        since_commit += 1
        if since_commit >= config.commit_every:
            commit()
            progress.log()

    args = (fillers, render, seed, soundfont, program, cqt, request_key, audio_root)
    threads = torch.get_num_threads()
    if n_jobs == 1:
        _one_thread()  # the same arrays as the workers compute
    try:
        with _terminate_as_interrupt():
            render_in_order(scheduler, build_work, args, n_jobs, finished, _one_thread)
    except BaseException as error:  # Ctrl-C, `kill PID`, a failed work: keep what is rendered
        try:
            commit()  # a work half appended when it struck is not done: its next run redoes it
        except Exception as commit_error:
            error.add_note(f"committing the rendered works failed too: {commit_error}")
        else:
            logger.warning(
                "pretraining corpus: stopped (%s); the %d works rendered are committed and the "
                "next run resumes there", type(error).__name__, len(scheduler.done),
            )  # fmt: skip
        raise
    finally:
        torch.set_num_threads(threads)
        progress.close()
    if config.n_works is not None and len(scheduler.done) < config.n_works:
        commit()  # what was rendered stays for a smaller n_works
        raise ValueError(
            f"only {len(scheduler.done)} of music21's corpus pieces could be rendered as "
            f"pretraining works; n_works={config.n_works} is too many"
        )
    records = [scheduler.done[rank] for rank in sorted(scheduler.done)]
    table = pd.DataFrame(
        [row for record in records for row in record["rows"]], columns=list(TABLE_COLUMNS)
    ).sort_values("perf_id", ignore_index=True)
    # An independent check of the rules above, on what the table says was played.
    heard = (set(table.piece) | set(table.prelude_piece) | set(table.outro_piece)) - {""}
    bach = {name for name in heard | set(table.composer) if is_bach(name)}
    leaked = (set(table.piece) & excluded) | (heard & default_works) | bach
    if leaked:
        raise RuntimeError(f"pretraining corpus holds excluded pieces: {sorted(leaked)}")
    writer.keep(table.perf_id)  # rows of works outside the selection go at this commit
    commit(final=True)
    progress.log()
    store = FeatureStore(folder, writer.previous)
    missing = set(table.perf_id) - set(store)
    if missing:
        raise RuntimeError(f"no features for {len(missing)} versions, e.g. {sorted(missing)[:3]}")
    return table, store


def pretraining_splits(
    work_ids: pd.Series, seed: int, val_fraction: float, min_val_works: int
) -> pd.Series:
    """The split of each row, "val" or "train", by work: the works whose hash fraction is below
    `val_fraction`, or the `min_val_works` lowest when those are fewer (one work stays train)."""
    works = sorted(set(work_ids), key=lambda w: (work_hash_fraction(w, seed), w))
    n_val = sum(work_hash_fraction(w, seed) < val_fraction for w in works)
    n_val = min(max(n_val, min_val_works), max(len(works) - 1, 0))
    val = set(works[:n_val])
    return work_ids.map(lambda w: "val" if w in val else "train")


def pretraining_manifest(
    table: pd.DataFrame, config: PretrainingCorpusConfig, seed: int
) -> pd.DataFrame:
    """The table as a manifest (`data/manifest.py`): train and val works, no test works."""
    usable = table.assign(
        split=pretraining_splits(table.work_id, seed, config.val_fraction, config.min_val_works),
        channels=1,
        truncated=False,
    )
    return finalise_manifest(usable, seed, {"val_fraction": 0.0, "test_fraction": 0.0})
