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


def new_record(request: dict, config: dict, seed: int, rendered: dict[str, dict], **rest) -> dict:
    """A record: the request, the config, the seed, the fingerprint of the `rendered` files
    ({perf_id: {"bytes", "sha256"}}), and `rest` (those files, or the works and the pieces
    skipped)."""
    made = {"request": request, "config": config, "seed": seed}
    return {**made, "fingerprint": fingerprint(rendered), **rest}


def read_record(root: Path, source: str) -> dict | None:
    """The JSON record the generator `source` keeps of what it rendered into `root`, or None.

    A missing record is a first run. One that cannot be read (truncated, edited, not JSON) is
    logged as a warning naming the file and the reason, since every work it described is then
    rendered again; the generator writes a new one (atomically) when it is done.
    """
    path = root / RECORD_FILE
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


def write_record(root: Path, record: dict) -> None:
    """Write the record into `root` (indented, keys sorted) atomically: a killed run leaves the
    old one."""
    write_bytes_atomically(
        root / RECORD_FILE, json.dumps(record, indent=1, sort_keys=True).encode()
    )
