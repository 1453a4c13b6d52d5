"""What stored features were made from, as short digests: a changed request means new features.

The digests are kept on disk (the store's index, the state file), so their text must stay as it
is: a different text for the same request would render a finished build again.
"""

from __future__ import annotations

import hashlib

# Bump when the same request would give different features, so stored ones are recomputed.
PRETRAINING_VERSION = 1


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def version_fingerprint(request_key: str, work_id: str, rank: int, version_idx: int) -> str:
    """The fingerprint a version's feature row carries: request, work, its rank, the version."""
    return digest(f"{request_key}:{work_id}:{rank}:{version_idx}")
