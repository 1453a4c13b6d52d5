"""Source name -> the generator that renders it: `ingest.source: synthetic | rendered_corpus`.

Each renders its collection into a folder in the `folder` layout (`<root>/<work_id>/
<perf_id>.flac`, keeping what an earlier run of the same request left there) and returns its
ground truth: one row per performance, perf_id and work_id first, then how the version was made.
`data/sources/generated.py` reads the two back as one listing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from coverhunter.data.sources.generated import GENERATED_SOURCES


def render_collection(
    source: str, settings: Mapping[str, Any], root: Path, seed: int
) -> pd.DataFrame:
    """Render the collection of `source` into `root`; its ground truth.

    `settings`: the fields of its config (`SyntheticConfig`, `RenderedCorpusConfig`), as
    `ingest.<source>` gives them; its `root` is the caller's to read and is ignored here. An
    unknown field is a TypeError naming it.
    """
    options = {key: value for key, value in settings.items() if key != "root"}
    # Imported here: the rendered corpus needs music21, which takes seconds to import.
    if source == "synthetic":
        from coverhunter.corpora.synthetic.collection import generate_synthetic_collection
        from coverhunter.corpora.synthetic.config import SyntheticConfig

        return generate_synthetic_collection(root, SyntheticConfig(**options), seed)
    if source == "rendered_corpus":
        from coverhunter.corpora.rendered_corpus.collection import render_corpus_collection
        from coverhunter.corpora.rendered_corpus.config import RenderedCorpusConfig

        return render_corpus_collection(root, RenderedCorpusConfig(**options), seed)
    raise ValueError(f"{source!r} is not a generated source; those are {list(GENERATED_SOURCES)}")
