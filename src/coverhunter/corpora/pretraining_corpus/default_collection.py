"""The default collection's pieces, which the pretraining never takes as works.

Its works are never heard here (its test works must stay unheard); its prelude/outro pieces may
be heard as such, never as works. They are found by replaying its selection, which parses
pieces but renders nothing, and kept in the state file under the key of that selection.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict

import music21

from coverhunter.corpora.pretraining_corpus.fingerprints import digest
from coverhunter.corpora.pretraining_corpus.work import one_thread
from coverhunter.corpora.rendered_corpus.collection import GENERATOR_VERSION
from coverhunter.corpora.rendered_corpus.config import RenderedCorpusConfig
from coverhunter.corpora.rendered_corpus.corpus_pieces import Candidate, PieceError
from coverhunter.corpora.rendered_corpus.scheduler import WorkScheduler, render_in_order
from coverhunter.corpora.rendered_corpus.works import plan_work, select_candidates

logger = logging.getLogger(__name__)


def _try_plan(candidate: Candidate, rank: int, config: RenderedCorpusConfig, seed: int) -> dict:
    """Whether `candidate` becomes a work of the collection at `rank` (parses it, renders nothing)."""
    try:
        plan_work(candidate, rank, config, seed)
    except PieceError as error:
        return {"skipped": str(error)}
    return {"piece": candidate.name}


def selection_key(config: RenderedCorpusConfig, seed: int) -> str:
    """What decides which pieces a rendered collection takes (its settings, seed, music21)."""
    settings = asdict(config)
    del settings["n_jobs"], settings["soundfont"], settings["fluidsynth"]
    text = json.dumps(
        {"generator": GENERATOR_VERSION, "music21": music21.__version__, "seed": seed, **settings},
        sort_keys=True,
        default=list,
    )
    return digest(text)


def default_collection_pieces(
    config: RenderedCorpusConfig, seed: int, n_jobs: int
) -> tuple[list[str], list[str]]:
    """(works, fillers): the corpus names of the pieces a rendered collection of `config` uses.

    Replays its selection, parsing its candidates in order until `config.n_works` are usable,
    in `n_jobs` processes (the same pieces whatever `n_jobs`); nothing is rendered.
    """
    order, fillers = select_candidates(config, seed)
    scheduler = WorkScheduler(order, config.n_works, lambda rank, candidate: None, {})
    render_in_order(scheduler, _try_plan, (config, seed), n_jobs, initializer=one_thread)
    if len(scheduler.done) < config.n_works:
        raise ValueError(
            f"replaying the default collection found only {len(scheduler.done)} usable pieces "
            f"of the {config.n_works} it has"
        )
    works = [scheduler.done[rank]["piece"] for rank in sorted(scheduler.done)]
    return works, [filler.name for filler in fillers]


def excluded_pieces(
    recorded: dict, config: RenderedCorpusConfig, seed: int, n_jobs: int
) -> dict[str, str | list[str]]:
    """{"key", "works", "fillers"}: the default collection's pieces, `recorded` (the state file's
    "excluded") when it was found for the same selection, else replayed in up to `n_jobs`."""
    key = selection_key(config, seed)
    if recorded.get("key") == key:
        return recorded
    started = time.perf_counter()
    # Processes cost seconds to start: one per ten works to find (10 for the default 100).
    replay_jobs = min(n_jobs, max(1, config.n_works // 10))
    works, fillers = default_collection_pieces(config, seed, replay_jobs)
    logger.info(
        "pretraining corpus: the default collection's %d works found in %.1f s",
        len(works), time.perf_counter() - started,
    )  # fmt: skip
    return {"key": key, "works": works, "fillers": fillers}
