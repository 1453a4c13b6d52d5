"""The pretraining build's settings: its own, and how it renders over the default collection's."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from coverhunter.corpora.rendered_corpus.config import RenderedCorpusConfig


@dataclass(frozen=True)
class PretrainingCorpusConfig:
    """How big the build is and how it runs; how works are rendered is a `RenderedCorpusConfig`."""

    n_works: int | None = None  # None: every usable piece of the corpus
    val_fraction: float = 0.03  # works for validation (recipe selection)
    min_val_works: int = 100  # at least this many validation works (one work stays train)
    n_jobs: int | None = None  # worker processes; None: every core this process may use
    commit_every: int = 100  # works between two commits of the feature store
    keep_audio: bool = False  # also write each version as FLAC under audio_root
    audio_root: str | None = None

    def __post_init__(self) -> None:
        def check(ok: bool, name: str, rule: str) -> None:
            if not ok:
                raise ValueError(f"pretrain_corpus.{name}={getattr(self, name)!r}: {rule}")

        check(self.n_works is None or self.n_works >= 1, "n_works", "'all' or a number >= 1")
        check(0 <= self.val_fraction < 1, "val_fraction", "must be in [0, 1)")
        check(self.min_val_works >= 0, "min_val_works", "must be >= 0")
        check(self.n_jobs is None or self.n_jobs >= 1, "n_jobs", "null (every core) or >= 1")
        check(self.commit_every >= 1, "commit_every", "must be >= 1")
        check(not self.keep_audio or bool(self.audio_root), "audio_root", "needed by keep_audio")

    @property
    def workers(self) -> int:
        return self.n_jobs if self.n_jobs is not None else len(os.sched_getaffinity(0))


def pretraining_settings(
    pretrain_corpus: Mapping[str, Any], rendered_corpus: Mapping[str, Any]
) -> tuple[PretrainingCorpusConfig, RenderedCorpusConfig, RenderedCorpusConfig]:
    """The build's settings from the parameters: (build, how it renders, the default collection).

    `pretrain_corpus` holds `PretrainingCorpusConfig` fields (`n_works: all` for every piece) and
    any `RenderedCorpusConfig` field, set over the default collection's `rendered_corpus` (so the
    cover variation is the default's unless set here; a mapping such as `cover` is merged key by
    key). An unknown key is a TypeError naming it.
    """
    default = {k: v for k, v in rendered_corpus.items() if k != "root"}
    own = {f.name for f in fields(PretrainingCorpusConfig)}
    build = {k: v for k, v in pretrain_corpus.items() if k in own}
    if str(build.get("n_works", "all")).lower() == "all":
        build["n_works"] = None
    config = PretrainingCorpusConfig(**build)
    render = {k: v for k, v in default.items() if k != "n_jobs"}
    for key, value in pretrain_corpus.items():
        if key in own:
            continue
        if key == "root":
            raise TypeError(
                "pretrain_corpus.root: the build keeps features; audio goes to audio_root"
            )
        base = render.get(key)
        render[key] = {**base, **value} if isinstance(value, Mapping) and base else value
    render_config = RenderedCorpusConfig(**{**render, "n_jobs": config.workers})
    return config, render_config, RenderedCorpusConfig(**default)
