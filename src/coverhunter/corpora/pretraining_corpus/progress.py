"""How far a pretraining build is: a tqdm bar over works and a log line at every commit."""

from __future__ import annotations

import logging
import math
import sys
import time

from tqdm.auto import tqdm

logger = logging.getLogger(__name__)


class Progress:
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
            elapsed / max(self.works, 1), duration(left),
        )  # fmt: skip

    def close(self) -> None:
        self.bar.close()


def duration(seconds: float) -> str:
    """`seconds` as a person reads a time left: "2 h 05 min", "3 min 07 s", "unknown"."""
    if not math.isfinite(seconds):
        return "unknown"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"
