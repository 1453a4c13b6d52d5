"""Atomic writes: a file or folder is replaced whole, or not at all.

Whatever is written goes to a hidden sibling first (`.<name>.<pid>.partial`) and takes the final
name with one `os.replace` once it is complete (a file's bytes flushed to the disk first), so an
interrupted run (a kill, a full disk, an exception, a power cut) never leaves a truncated file for
a later run to read as whole.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["replaced_atomically", "write_bytes_atomically"]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def replaced_atomically(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary sibling of `path` to write (as a file, or as a folder); when the
    block ends without an error it replaces `path`, else it is removed and `path` is untouched.

    A folder replaces an existing one by removing the old folder first (`os.replace` cannot
    replace a non-empty folder): between the two, `path` is briefly absent, never partial.

    Example:
        >>> with replaced_atomically(tmp / "table.json") as partial:
        ...     partial.write_text("{}")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    _remove(partial)  # left by an earlier process of this pid that was killed
    try:
        yield partial
        if partial.is_file():
            with open(partial, "rb") as handle:
                os.fsync(handle.fileno())
        if partial.is_dir() and path.is_dir():
            shutil.rmtree(path)
        os.replace(partial, path)
    finally:
        if partial.exists() or partial.is_symlink():
            _remove(partial)


def write_bytes_atomically(path: str | Path, data: bytes) -> None:
    """`Path(path).write_bytes(data)`, atomically (see `replaced_atomically`)."""
    with replaced_atomically(path) as partial:
        partial.write_bytes(data)
