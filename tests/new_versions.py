"""New recordings of the shared tiny run's gallery works: versions its collection never holds,
made the way the collection was (what `coverhunter identify` is asked to find)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import soundfile as sf

from coverhunter.corpora.synthetic.config import SyntheticConfig
from coverhunter.corpora.synthetic.versions import plan_work, render_version

# A new recording of a gallery work: the work as its first version plays it, rendered again
# (its own timing, loudness and noise draws: a version index the collection never reaches) at
# another tempo, under pink noise at 15 dB SNR (the collection's are 20-30 dB), without its
# first seconds, at another sample rate, in another container. Not in another key: the shared
# run trains the paper's CQT front end without the pitch roll on a collection that keeps every
# work's key, so it cannot find a transposed version (measured: +2 semitones with the changes
# below, 0 of 8 test works first; +5 semitones alone, 1 of 8); the key is conf/base's front
# end's job, tested on transposed audio (tests/model/test_front_end.py) and in learning
# (tests/pipelines/test_base_front_end_learning.py).
NEW_VERSION = 77
NEW_RATE = 22050
CUT_S = 2.0
NEW_SNR_DB = 15.0
# (test work, tempo factor): the first four test works, every other one (measured on 16 of them
# at these settings: the trained model ranks 15 first, the untrained model 5; on these four the
# untrained model's ranks are 15, 8, 2, 14 at 1.05 and 26, 14, 18, 15 at 0.95)
TEMPI = (1.05, 0.95, 1.05, 0.95)


def _synthetic(project: Path) -> tuple[SyntheticConfig, int]:
    """The synthetic collection's settings and seed, as the run recorded them."""
    record = json.loads((project / "data/01_raw/synthetic/collection.json").read_text())
    return SyntheticConfig(**record["config"]), record["seed"]


def new_recording(project: Path, work_id: str, tempo: float, folder: Path) -> Path:
    """An OGG file of a new version of `work_id` (see NEW_VERSION): its path."""
    config, seed = _synthetic(project)
    plan = plan_work(config, seed, int(work_id.removeprefix("syn_w")))[0]
    new = replace(
        plan,
        version_idx=NEW_VERSION,
        performance=replace(plan.performance, tempo=plan.performance.tempo * tempo),
        snr_db=NEW_SNR_DB,
        noise="pink",
        prelude_n=0,
        outro_n=0,
        shared_n=round(plan.n_samples / config.sample_rate * NEW_RATE),
    )
    audio = render_version(new, replace(config, sample_rate=NEW_RATE), seed)
    path = folder / f"{new.perf_id}.ogg"
    sf.write(path, audio[round(CUT_S * NEW_RATE) :], NEW_RATE, format="OGG", subtype="VORBIS")
    return path


def new_recordings(project: Path, folder: Path) -> dict[str, Path]:
    """{work_id: a new recording of it} for test works of the gallery, tempo as in TEMPI."""
    manifest = pd.read_parquet(project / "data/02_intermediate/default/manifest.parquet")
    works = sorted(manifest[manifest.split == "test"].work_id.unique())[::2][: len(TEMPI)]
    return {w: new_recording(project, w, t, folder) for w, t in zip(works, TEMPI, strict=True)}
