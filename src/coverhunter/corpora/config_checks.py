"""Checks of the settings every generator has: one `ValueError` naming the field and the rule.

They raise `SourceError`, the error `kedro run` ends with in one line (a generator setting is
part of how a collection is asked for, as a reader's option is).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coverhunter.data.sources._common import SourceError


def config_check(config: Any) -> Callable[[bool, str, str], None]:
    """`check(ok, field, rule)`: ValueError "<Config>.<field>=<value>: <rule>" when not ok."""

    def check(ok: bool, name: str, rule: str) -> None:
        if not ok:
            raise SourceError(f"{type(config).__name__}.{name}={getattr(config, name)!r}: {rule}")

    return check


def check_collection_size(config: Any) -> None:
    """The size fields every generated collection has: works, versions, durations, sample rate."""
    check = config_check(config)
    check(1 <= config.n_works <= 9999, "n_works", "must be 1-9999")
    check(1 <= config.min_versions <= 99, "min_versions", "must be 1-99")
    check(config.min_versions <= config.max_versions <= 99, "max_versions", "min_versions-99")
    check(config.min_duration_s > 0, "min_duration_s", "must be positive")
    check(config.max_duration_s >= config.min_duration_s, "max_duration_s", ">= min_duration_s")
    check(config.sample_rate >= 8000, "sample_rate", "must be at least 8000")
