"""The pretraining build: the works of the pretraining's candidate order rendered into a feature
store, committed as they come, resuming what an earlier run committed (see the package doc)."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import torch

from coverhunter.audio.cqt import CQTConfig
from coverhunter.corpora.pretraining_corpus.config import PretrainingCorpusConfig
from coverhunter.corpora.pretraining_corpus.default_collection import excluded_pieces
from coverhunter.corpora.pretraining_corpus.fingerprints import PRETRAINING_VERSION, digest
from coverhunter.corpora.pretraining_corpus.progress import Progress
from coverhunter.corpora.pretraining_corpus.resume import (
    previous_works,
    read_rows,
    read_state,
    write_rows,
    write_state,
)
from coverhunter.corpora.pretraining_corpus.work import TABLE_COLUMNS, build_work, one_thread
from coverhunter.corpora.rendered_corpus.collection import render_request
from coverhunter.corpora.rendered_corpus.config import RenderedCorpusConfig
from coverhunter.corpora.rendered_corpus.corpus_pieces import Candidate, is_bach
from coverhunter.corpora.rendered_corpus.fluidsynth import find_fluidsynth, find_soundfont
from coverhunter.corpora.rendered_corpus.scheduler import WorkScheduler, render_in_order
from coverhunter.corpora.rendered_corpus.works import select_candidates, work_id_of
from coverhunter.data.feature_store import FeatureStore, FeatureStoreWriter

logger = logging.getLogger(__name__)


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
    _check_sample_rates(cqt, render)
    program = find_fluidsynth(render.fluidsynth)
    soundfont = find_soundfont(render.soundfont)
    folder = writer.folder
    state = read_state(folder)
    n_jobs = config.workers

    # The default collection's pieces: replayed once, then read from the state file.
    excluded_state = excluded_pieces(state.get("excluded", {}), default_collection, seed, n_jobs)
    # Its works are never heard here; its prelude/outro pieces may be heard as such, never as works.
    default_works = set(excluded_state["works"])
    excluded = default_works | set(excluded_state["fillers"])

    order, fillers = select_candidates(render, seed)
    fillers = tuple(f for f in fillers if f.name not in default_works)
    if not fillers:
        raise ValueError("every filler piece is a work of the default collection")
    request = _request(render, seed, soundfont, program, fillers, cqt)
    request_key = digest(json.dumps(request, sort_keys=True))
    unusable = dict(state.get("skipped", {})) if state.get("request_key") == request_key else {}
    previous = previous_works(read_rows(folder), writer.previous, request_key, config.keep_audio)

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
    progress = Progress(n_works, min(reusable, n_works))
    audio_root = Path(config.audio_root).resolve() if config.keep_audio else None
    since_commit = 0

    def commit(final: bool = False) -> None:
        """Rows and state first, then the index: a work counts as done once all three agree."""
        nonlocal since_commit
        done = {record["work_id"]: record for record in scheduler.done.values()}
        # Until the end, works of an earlier, bigger selection are kept for a later run.
        kept = [] if final else [r for w, r in previous.items() if w not in done]
        write_rows(kept + list(done.values()), folder)
        write_state(folder, {
            "request_key": request_key, "request": request, "excluded": excluded_state,
            "skipped": {k: v for k, v in scheduler.skipped.items() if k not in excluded},
        })  # fmt: skip
        writer.commit()
        since_commit = 0

    def finished(rank: int, candidate: Candidate, result: dict) -> None:
        nonlocal since_commit
        if "skipped" in result:
            if config.n_works is None:
                progress.unusable()
            return
        _append_work(writer, result)
        progress.rendered(len(result["rows"]))
        since_commit += 1
        if since_commit >= config.commit_every:
            commit()
            progress.log()

    args = (fillers, render, seed, soundfont, program, cqt, request_key, audio_root)
    try:
        _render_committing_on_stop(scheduler, args, n_jobs, finished, commit)
    finally:
        progress.close()
    if config.n_works is not None and len(scheduler.done) < config.n_works:
        commit()  # what was rendered stays for a smaller n_works
        raise ValueError(
            f"only {len(scheduler.done)} of music21's corpus pieces could be rendered as "
            f"pretraining works; n_works={config.n_works} is too many"
        )
    table = _checked_table(scheduler.done, excluded, default_works)
    writer.keep(table.perf_id)  # rows of works outside the selection go at this commit
    commit(final=True)
    progress.log()
    store = FeatureStore(folder, writer.previous)
    missing = set(table.perf_id) - set(store)
    if missing:
        raise RuntimeError(f"no features for {len(missing)} versions, e.g. {sorted(missing)[:3]}")
    return table, store


def _check_sample_rates(cqt: CQTConfig, render: RenderedCorpusConfig) -> None:
    if cqt.sample_rate != render.sample_rate:
        raise ValueError(
            f"feature_cqt.cqt.sample_rate {cqt.sample_rate} differs from the render's "
            f"sample_rate {render.sample_rate}"
        )


def _request(
    render: RenderedCorpusConfig,
    seed: int,
    soundfont: Path,
    program: str,
    fillers: tuple[Candidate, ...],
    cqt: CQTConfig,
) -> dict:
    """What decides a version's features: its fingerprint is made from this (`fingerprints.py`)."""
    return {
        "pretraining_version": PRETRAINING_VERSION,
        "render": render_request(render, seed, soundfont, program),
        "fillers": [f.name for f in fillers],
        "cqt": cqt.to_dict(),
        "samples": "16-bit FLAC, peak-normalised",
    }


def _append_work(writer: FeatureStoreWriter, result: dict) -> None:
    """A rendered work's versions into the store; the record stays in memory, its arrays do not."""
    features = result.pop("features")
    for row, array, fingerprint in zip(
        result["rows"], features, result["fingerprints"], strict=True
    ):
        writer.append(row["perf_id"], array, fingerprint)


def _render_committing_on_stop(
    scheduler: WorkScheduler,
    args: tuple,
    n_jobs: int,
    finished: Callable[[int, Candidate, dict], None],
    commit: Callable[[], None],
) -> None:
    """`build_work` for the scheduler's pieces; stopped (Ctrl-C, `kill PID`, a failed work), it
    commits every work it finished before it raises."""
    threads = torch.get_num_threads()
    if n_jobs == 1:
        one_thread()  # the same arrays as the workers compute
    try:
        with _terminate_as_interrupt():
            render_in_order(scheduler, build_work, args, n_jobs, finished, one_thread)
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


def _checked_table(
    done: dict[int, dict], excluded: set[str], default_works: set[str]
) -> pd.DataFrame:
    """The rows of the works `done` (rank -> record) sorted by perf_id; RuntimeError when they
    play an excluded piece: an independent check of the rules, on what the table says was played."""
    records = [done[rank] for rank in sorted(done)]
    table = pd.DataFrame(
        [row for record in records for row in record["rows"]], columns=list(TABLE_COLUMNS)
    ).sort_values("perf_id", ignore_index=True)
    heard = (set(table.piece) | set(table.prelude_piece) | set(table.outro_piece)) - {""}
    bach = {name for name in heard | set(table.composer) if is_bach(name)}
    leaked = (set(table.piece) & excluded) | (heard & default_works) | bach
    if leaked:
        raise RuntimeError(f"pretraining corpus holds excluded pieces: {sorted(leaked)}")
    return table
