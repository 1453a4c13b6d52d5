"""Helpers the collection readers share: the options every reader reads alike (its listing,
``audio_root``, ``extensions``) and the audio files they lead to, listing checks."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

logger = logging.getLogger(__name__)


class SourceError(ValueError):
    """A collection that cannot be listed as asked: a listing file, a folder, an option or a
    generator setting (the message names which, and why). `kedro run` ends with this message
    alone, no traceback (`coverhunter.cli`)."""


AUDIO_EXTENSIONS: tuple[str, ...] = ("wav", "flac", "mp3", "ogg", "m4a", "opus", "webm")
SPLITS = frozenset({"train", "val", "test"})


def path_option(
    options: Mapping[str, Any], key: str, source: str, default: Path | None = None
) -> Path:
    """The absolute path given as option ``key`` (``~`` expanded), else ``default``.

    Raises ValueError naming the option when it is missing and there is no default.
    """
    value = options.get(key)
    if value is None or str(value) == "":
        if default is None:
            raise SourceError(f"{source}: missing option '{key}'")
        return default
    # abspath, not resolve(): keep the user's symlinked folders as they named them.
    return Path(os.path.abspath(os.path.expanduser(str(value))))


def require_file(path: Path, source: str, what: str) -> Path:
    """``path`` itself, or ValueError "<source>: <what> <path> not found"."""
    if not path.is_file():
        raise SourceError(f"{source}: {what} {path} not found")
    return path


def require_dir(path: Path, source: str, what: str) -> Path:
    """``path`` itself, or ValueError "<source>: <what> <path> not found" (or not a folder)."""
    if not path.is_dir():
        reason = "is not a folder" if path.exists() else "not found"
        raise SourceError(f"{source}: {what} {path} {reason}")
    return path


def choice_option(
    options: Mapping[str, Any], key: str, source: str, choices: Sequence[str], default: str | None
) -> str | None:
    """Option ``key`` (default ``default``; None when neither is given), or ValueError when it
    is not one of ``choices``."""
    value = options.get(key) or default
    if value is None:
        return None
    value = str(value)
    if value not in choices:
        raise SourceError(f"{source}: option {key}={value!r} is not one of {list(choices)}")
    return value


def extensions_option(
    options: Mapping[str, Any], source: str, default: Sequence[str]
) -> tuple[str, ...]:
    """Option ``extensions`` (a name or a list) as lower-case names without the dot."""
    value = options.get("extensions") or default
    names = [value] if isinstance(value, str) else list(value)
    extensions = tuple(str(name).strip().lstrip(".").lower() for name in names)
    if not extensions or not all(extensions):
        raise SourceError(f"{source}: option extensions={value!r} must name at least one extension")
    return extensions


def find_audio(stems: Sequence[Path], extensions: Sequence[str]) -> Path:
    """The first existing ``<stem>.<ext>``, stems outer and extensions inner; else the first one.

    Listings name recordings without their format (and some layouts vary), so the file on disk
    decides. A recording with no file keeps its most likely path, which ingest validation then
    reports as missing.
    """
    # Appending, not with_suffix(): ids such as "P_1.2" contain dots.
    candidates = [stem.with_name(f"{stem.name}.{ext}") for stem in stems for ext in extensions]
    return next((path for path in candidates if path.is_file()), candidates[0])


def listing_option(
    options: Mapping[str, Any], source: str, what: str, folder: bool = False
) -> Path:
    """The required option ``path``: an existing file (a folder with ``folder``), else
    SourceError naming ``what`` (e.g. "CSV file")."""
    path = path_option(options, "path", source)
    return require_dir(path, source, what) if folder else require_file(path, source, what)


def audio_root_option(options: Mapping[str, Any], source: str, default: Path) -> Path:
    """Option ``audio_root`` (default ``default``, e.g. the listing's folder): an existing folder."""
    return require_dir(path_option(options, "audio_root", source, default), source, "audio_root")


@dataclass(frozen=True)
class AudioFiles:
    """Where a collection's recordings lie: under ``root``, as ``<stem>.<ext>`` for the first of
    ``extensions`` that exists."""

    root: Path
    extensions: tuple[str, ...]

    def find(self, *stems: str | Path) -> Path:
        """The audio file of a recording whose stem (relative to ``root``, without extension) is
        one of ``stems``, tried in order (see `find_audio`)."""
        return find_audio([self.root / stem for stem in stems], self.extensions)


def audio_files_option(
    options: Mapping[str, Any],
    source: str,
    default_root: Path,
    default_extensions: Sequence[str] = AUDIO_EXTENSIONS,
) -> AudioFiles:
    """Options ``audio_root`` and ``extensions`` (see `audio_root_option`, `extensions_option`)."""
    return AudioFiles(
        audio_root_option(options, source, default_root),
        extensions_option(options, source, default_extensions),
    )


def warn_repeated_ids(table: pd.DataFrame, source: str, listing: Path) -> None:
    """Log the repeated perf_ids of ``table``: ingest keeps the first and rejects the others."""
    repeated = table[table["perf_id"].duplicated(keep=False)]
    if repeated.empty:
        return
    examples = repeated.groupby("perf_id", sort=True)["path"].apply(list).head(5).to_dict()
    logger.warning(
        "%s: %s lists %d perf_id(s) more than once (the first is kept), e.g. %s",
        source,
        listing,
        repeated["perf_id"].nunique(),
        examples,
    )
