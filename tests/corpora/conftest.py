"""What the corpora tests share: where the `folder` layout keeps a recording the builders wrote."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def recording_of() -> Callable[[Path, object], Path]:
    """`recording_of(root, row)`: where the `folder` layout keeps a ground-truth row's recording,
    written out here rather than taken from the code under test."""

    def path(root: Path, row) -> Path:
        return root / row.work_id / f"{row.perf_id}.flac"

    return path
