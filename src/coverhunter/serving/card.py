"""A shipped model's card: the facts it states about its weights, and how to measure them again.

The card (``MODEL_CARD.md`` beside the weights) is prose for people: training data, steps,
hardware, wall time, the figures of the runs that measured it, the command that rebuilds it.
Four of its lines are facts a test measures again (``tests/test_shipped_model.py``), so card and
weights cannot drift apart:

    weights sha256: `<hex>`
    parameters: <N>
    front end: `<name>`
    slice mAP: <0.xxxx>

The slice is a small synthetic collection (`SLICE`, seed `SLICE_SEED`), rendered in memory in
seconds: every version a query against the others, the evaluation's 45 s chunks. Its figure is a
fingerprint of what the weights do, as the sha256 is of their bytes (a change of the code that
embeds, of the CQT or of the weights moves it); it is not the model's quality, which the card
states on the default test works and the pretraining validation works.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt_batch
from coverhunter.corpora.synthetic.config import SyntheticConfig
from coverhunter.corpora.synthetic.versions import plan_collection, render_version
from coverhunter.evaluation.collection import EmbedSettings, TrackSet, score_embedder
from coverhunter.model.coverhunter import CoverHunter
from coverhunter.persistence.model_folder import WEIGHTS_FILE, load_model_folder
from coverhunter.retrieval.gallery import ChunkSettings

__all__ = [
    "CARD_FILE",
    "SLICE",
    "SLICE_SEED",
    "CardError",
    "facts_agree",
    "measured_facts",
    "slice_map",
    "slice_tracks",
    "stated_facts",
    "weights_sha256",
    "with_facts",
]

CARD_FILE = "MODEL_CARD.md"
# 12 works of 3 versions, 20-25 s, the synthetic generator's own variation (key, tempo, timbre,
# noise, a prelude or outro): 36 recordings, a few seconds to render and embed on one core.
SLICE = SyntheticConfig(
    n_works=12,
    min_versions=3,
    max_versions=3,
    min_duration_s=20.0,
    max_duration_s=25.0,
    max_prelude_s=4.0,
    max_outro_s=3.0,
    n_jobs=1,
)
SLICE_SEED = 20261128
SLICE_CHUNKS = ChunkSettings(chunk_s=45.0, min_tail_s=10.0)  # the evaluation's (indexing.*)
# The slice figure is written to 4 decimals; CPUs agree to far better than this (float32 sums in
# another order), a changed weight or embedding path does not.
MAP_TOLERANCE = 2e-4

_FACTS = {
    "weights_sha256": (r"weights sha256: `([0-9a-f]{64})`", str),
    "parameters": (r"parameters: ([0-9][0-9,]*)", lambda s: int(s.replace(",", ""))),
    "front_end": (r"front end: `([a-z_0-9]+)`", str),
    "slice_map": (r"slice mAP: ([0-9]+\.[0-9]+)", float),
}
_LINES = {
    "weights_sha256": "weights sha256: `{}`",
    "parameters": "parameters: {:,}",
    "front_end": "front end: `{}`",
    "slice_map": "slice mAP: {:.4f}",
}


class CardError(ValueError):
    """A card that does not state a fact it must; the message names the card and the fact."""


def weights_sha256(folder: str | Path) -> str:
    """Hex sha256 of a model folder's weights file."""
    return hashlib.sha256((Path(folder) / WEIGHTS_FILE).read_bytes()).hexdigest()


@lru_cache(maxsize=2)
def slice_tracks(
    cqt: CQTConfig, config: SyntheticConfig = SLICE, seed: int = SLICE_SEED
) -> TrackSet:
    """The slice's recordings, rendered in memory, as log-CQT features under `cqt` (kept for the
    process: the same arguments render the same audio)."""
    plans = plan_collection(config, seed)
    if config.sample_rate != cqt.sample_rate:
        raise ValueError(
            f"the slice renders at {config.sample_rate} Hz, the CQT reads {cqt.sample_rate} Hz"
        )
    signals = [render_version(plan, config, seed) for plan in plans]
    features = log_cqt_batch(signals, CQTExtractor(cqt))
    perf_ids = [plan.perf_id for plan in plans]
    return TrackSet(
        perf_ids, [plan.work_id for plan in plans], dict(zip(perf_ids, features, strict=True))
    )


def slice_map(model: CoverHunter, tracks: TrackSet, frame_rate: float) -> float:
    """The model's mAP on the slice (every recording a query against the others), on the CPU."""
    model = model.to("cpu").eval()
    chunk_frames, min_tail_frames = SLICE_CHUNKS.frames(frame_rate, model.min_frames)
    settings = EmbedSettings(chunk_frames, frame_rate, 16, "cpu", min_tail_frames)
    return float(score_embedder(model.embed, tracks, settings)["mAP"])


def measured_facts(folder: str | Path, cqt: CQTConfig | None = None) -> dict:
    """The four card facts of the model folder, measured (the slice under `cqt`, default the
    conf/base CQT, which every shipped model reads)."""
    model, _ = load_model_folder(folder)
    cqt = cqt or CQTConfig()
    return {
        "weights_sha256": weights_sha256(folder),
        "parameters": sum(p.numel() for p in model.parameters()),
        "front_end": model.config.front_end,
        "slice_map": slice_map(model, slice_tracks(cqt), cqt.frame_rate),
    }


def stated_facts(card: str | Path) -> dict:
    """The four facts a card states. Raises CardError naming the card and each missing fact."""
    text = Path(card).read_text(encoding="utf-8")
    found = {name: re.search(pattern, text) for name, (pattern, _) in _FACTS.items()}
    missing = [_LINES[name].split(":")[0] for name, match in found.items() if match is None]
    if missing:
        raise CardError(f"{card} does not state {', '.join(missing)}")
    return {name: _FACTS[name][1](match.group(1)) for name, match in found.items()}


def with_facts(text: str, facts: Mapping[str, object]) -> str:
    """The card `text` with each fact's line replaced by `facts`' value; lines it lacks are
    added in a section at its end."""
    missing = []
    for name, line in _LINES.items():
        new = line.format(facts[name])
        text, n = re.subn(_FACTS[name][0], lambda _, new=new: new, text)
        if not n:
            missing.append(new)
    if missing:
        lines = "\n".join(f"- {line}" for line in missing)
        text = (
            f"{text.rstrip()}\n\n## Facts a test measures again\n\n"
            f"(`tests/test_shipped_model.py`; the slice is `serving/card.py`'s)\n\n{lines}\n"
        )
    return text


def facts_agree(stated: Mapping, measured: Mapping) -> list[str]:
    """The facts on which a card and its weights disagree, each as 'name: stated vs measured'."""
    problems = []
    for name in _FACTS:
        a, b = stated[name], measured[name]
        same = abs(a - b) <= MAP_TOLERANCE if name == "slice_map" else a == b
        if not same:
            problems.append(f"{name}: card {a} vs measured {b}")
    return problems
