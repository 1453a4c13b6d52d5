"""A generator's record of what it rendered: `collection.json` in the collection's folder.

It holds the request (seed, settings, generator version, ...), each file's size and SHA-256 and a
fingerprint of them all, so a later call with the same request renders only what is missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from coverhunter.data.atomic import write_bytes_atomically

logger = logging.getLogger(__name__)

RECORD_FILE = "collection.json"


def fingerprint(files: dict[str, dict]) -> str:
    """SHA-256 over every (perf_id, file SHA-256), in perf_id order: the collection's content."""
    digest = hashlib.sha256()
    for perf_id in sorted(files):
        digest.update(f"{perf_id}\t{files[perf_id]['sha256']}\n".encode())
    return digest.hexdigest()


def read_generator_record(path: Path, source: str) -> dict | None:
    """The JSON record a generator keeps of what it rendered (`collection.json`), or None.

    A missing record is a first run. One that cannot be read (truncated, edited, not JSON) is
    logged as a warning naming the file and the reason, since every work it described is then
    rendered again; the generator writes a new one (atomically) when it is done.
    """
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        reason = str(error)
    else:
        if isinstance(record, dict):
            return record
        reason = f"holds a {type(record).__name__}, not an object"
    logger.warning(
        "%s: %s cannot be read (%s): every work is rendered again, and the record rewritten",
        source,
        path,
        reason,
    )
    return None


def write_generator_record(path: Path, content: dict) -> None:
    """Write the record (indented, keys sorted) atomically: a killed run leaves the old one."""
    write_bytes_atomically(path, json.dumps(content, indent=1, sort_keys=True).encode())
