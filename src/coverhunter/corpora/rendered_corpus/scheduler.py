"""Pieces taken in order until enough of them are works, rendered in worker processes: which
pieces become works depends on the order alone, never on timing or `n_jobs`."""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from coverhunter.corpora.rendered_corpus.corpus_pieces import Candidate

logger = logging.getLogger(__name__)


class WorkScheduler:
    """Takes pieces in order until `n_works` are works: the first `n_works` usable pieces.

    A piece is only started while the works done plus those under way fall short of `n_works`,
    so which pieces become works depends on the order alone, never on timing or `n_jobs`.
    `reuse(rank, candidate)` gives the record of a work done by an earlier run (None: render it);
    `skipped` maps the names of pieces known to be unusable to the reason.
    """

    def __init__(
        self,
        order: list[Candidate],
        n_works: int,
        reuse: Callable[[int, Candidate], dict | None],
        skipped: dict[str, str],
    ):
        self.order, self.n_works, self.reuse, self.skipped = order, n_works, reuse, skipped
        self.done: dict[int, dict] = {}  # rank -> work record
        self.next_rank = 0

    def next_to_render(self, in_flight: int) -> tuple[int, Candidate] | None:
        """The next piece that needs rendering, reusing recorded works on the way; or None."""
        while len(self.done) + in_flight < self.n_works and self.next_rank < len(self.order):
            rank, candidate = self.next_rank, self.order[self.next_rank]
            self.next_rank += 1
            record = self.reuse(rank, candidate)
            if record is not None:
                self.done[rank] = record
            elif candidate.name not in self.skipped:
                return rank, candidate
        return None

    def finish(self, rank: int, candidate: Candidate, result: dict) -> None:
        if "skipped" in result:
            logger.warning("rendered corpus: skipped %s", result["skipped"])  # names the piece
            self.skipped[candidate.name] = result["skipped"]
        else:
            self.done[rank] = result


def render_in_order(
    scheduler: WorkScheduler,
    task: Callable[..., dict],
    args: tuple,
    n_jobs: int,
    on_finished: Callable[[int, Candidate, dict], None] | None = None,
    initializer: Callable[[], None] | None = None,
) -> None:
    """Run `task(candidate, rank, *args)` for the scheduler's pieces until it has `n_works`.

    In `n_jobs` spawned processes (in this one when 1); each result goes to `scheduler.finish`,
    then to `on_finished(rank, candidate, result)`, in the order the results come in.
    """

    def finished(job: tuple[int, Candidate], result: dict) -> None:
        scheduler.finish(*job, result)
        if on_finished is not None:
            on_finished(*job, result)

    if n_jobs == 1:
        while (job := scheduler.next_to_render(0)) is not None:
            finished(job, task(job[1], job[0], *args))
        return
    # Spawned, not forked: a fork of a threaded parent (Kedro, MLflow) can deadlock.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=n_jobs, mp_context=context, initializer=initializer
    ) as executor:
        running: dict[Future, tuple[int, Candidate]] = {}
        while True:
            while (
                len(running) < n_jobs
                and (job := scheduler.next_to_render(len(running))) is not None
            ):
                running[executor.submit(task, job[1], job[0], *args)] = job
            if not running:
                return
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                finished(running.pop(future), future.result())
