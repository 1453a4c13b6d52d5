"""Checks of a config dataclass's fields in `__post_init__`, each refusing a bad value with a
ValueError that names the field, its value and the rule: ``"kernel_size=4 must be odd"``.

Used by the model's, the losses' and the training loop's configs (`training/` imports `model/`).

Example:
    >>> check(self, "kernel_size", self.kernel_size % 2 == 1, "must be odd")
    >>> check_at_least(self, ("d_model", "n_blocks"), 1)
    >>> check_choice(self, "pooling", POOLINGS)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

__all__ = ["check", "check_at_least", "check_choice", "check_fraction"]


def check(config: Any, name: str, ok: bool, rule: str) -> None:
    """ValueError ``"<name>=<value> <rule>"`` unless `ok`."""
    if not ok:
        raise ValueError(f"{name}={getattr(config, name)!r} {rule}")


def check_at_least(config: Any, names: Iterable[str], minimum: float) -> None:
    """Each field of `names` is >= `minimum`."""
    for name in names:
        check(config, name, getattr(config, name) >= minimum, f"must be >= {minimum}")


def check_fraction(config: Any, names: Iterable[str]) -> None:
    """Each field of `names` is in [0, 1) (a dropout or masking probability)."""
    for name in names:
        check(config, name, 0.0 <= getattr(config, name) < 1.0, "must be in [0, 1)")


def check_choice(config: Any, name: str, choices: Collection[str]) -> None:
    """The field `name` is one of `choices`: ``"<name>=<value>; expected one of <choices>"``."""
    value = getattr(config, name)
    if value not in choices:
        raise ValueError(f"{name}={value!r}; expected one of {choices}")
