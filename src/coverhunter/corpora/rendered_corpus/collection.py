"""Real compositions as data: pieces of music21's corpus, each rendered as several "covers".

A work is a real piece (a folk tune, a madrigal, a mass movement, a string quartet, a rag, ...)
or an excerpt of a few phrases of it, in whole bars. Each version of it is a different rendering,
as real covers differ: the melody and mostly the form stay, the rest changes
(`cover.py`, probabilities in `cover:`, a `cover.CoverSettings`):
- the form: a section played twice, or one left out;
- the melody's reading: ornaments, passing notes, notes anticipated or delayed, another octave;
- the harmony and accompaniment: a piece of several parts keeps its written voices (dropped or
  doubled by arrangement, see `arrangement.py`) or plays its top voice over new chords
  fitted to it; a melody takes its own chords or re-drawn ones (another fit, substitutions,
  sevenths, the other mode, a chord every half bar: `harmony.py`), played in a texture
  (block chords, arpeggios, strumming, oom-pah, walking or pedal bass, a counter-melody, none:
  `texture.py`) and a voicing of its own;
- instrumentation: a General-MIDI ensemble (piano, strings, organ, guitar band with drums, brass,
  synth pop, woodwinds, choir, jazz combo), the programs drawn per version;
- tempo (0.8-1.25 times the piece's own) with a slow rubato and small onset errors;
- key (up to 6 semitones either way); voices other than the melody may move an octave;
- a prelude and/or outro of other music (another corpus piece, never one of the works, played as
  written) by the same band; the shared material starts `true_offset_s` into the recording;
- a room (synthetic reverberation), noise at 0-30 dB SNR and a loudness.
The ground truth records the cover's choices per version in four string columns (see
`cover.py`): `var_structure` ("none", "section_repeated", "repeat_dropped", "section_dropped"),
`var_melody` and `var_harmony` (the changes that altered something, comma-separated, or "none"),
and `var_texture` ("parts" for the written voices, else the texture's name); like every column of
the ground truth they flow into the manifest (`data/sources/generated.py` reads them back).

Steps per version: notes -> MIDI file (music21) -> FluidSynth with a General-MIDI soundfont ->
numpy (room, noise, loudness) -> 16 kHz mono 16-bit FLAC at `root/<work_id>/<perf_id>.flac`.

No Bach: every corpus path naming Bach (`bach/`, `cpebach/`) is out of the candidates and a
score whose composer is Bach is refused (an independent check of the project uses the chorales).

Works are the candidates in a seeded order that takes one piece of each corpus collection in turn
(`corpus_pieces.py`); a piece that fails to parse or is too short is skipped with a
warning and the next one takes its place. Streams are `numpy.random.default_rng([seed,
work_idx, version_idx])` (the work's own choices use `[seed, work_idx, WORK_STREAM]`), where
`work_idx` is the piece's place in that order: growing `n_works` keeps the existing works as they
are, and `n_jobs` changes nothing but speed. A version's cover is drawn from a stream seeded by
one draw of the version's stream, so its note-by-note choices shift none of the other draws.

`root/collection.json` records the request (seed, settings, soundfont, FluidSynth and music21
versions), each work's ground-truth rows, each file's size and SHA-256, the pieces skipped and
a fingerprint of the files; a second call with the same request returns the ground truth without
rendering anything that is still on disk.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import music21
import pandas as pd

from coverhunter.corpora.generator_record import new_record, read_record, write_record
from coverhunter.corpora.recording import encode_flac
from coverhunter.corpora.rendered_corpus.config import RenderedCorpusConfig
from coverhunter.corpora.rendered_corpus.corpus_pieces import Candidate, PieceError
from coverhunter.corpora.rendered_corpus.fluidsynth import (
    find_fluidsynth,
    find_soundfont,
    fluidsynth_version,
)
from coverhunter.corpora.rendered_corpus.scheduler import WorkScheduler, render_in_order
from coverhunter.corpora.rendered_corpus.versions import GROUND_TRUTH_COLUMNS, render_work_audio
from coverhunter.corpora.rendered_corpus.works import select_candidates, work_id_of
from coverhunter.data.atomic import write_bytes_atomically
from coverhunter.data.sources.folder import recording_path

logger = logging.getLogger(__name__)

# Bump when the same request would render different audio, so cached collections are redone.
GENERATOR_VERSION = 2
_WORK_DIR = re.compile(r"^rc_\w+$")


def render_work(
    candidate: Candidate,
    work_idx: int,
    fillers: tuple[Candidate, ...],
    config: RenderedCorpusConfig,
    seed: int,
    root: Path,
    soundfont: Path,
    program: str,
) -> dict[str, Any]:
    """Render one work's versions into `root/<work_id>/`.

    Returns {"work_id", "rows", "files": {perf_id: {"bytes", "sha256"}}}, or {"skipped": reason}
    when the piece cannot be a work (nothing is written then).
    """
    try:
        rows, audio = render_work_audio(
            candidate, work_idx, fillers, config, seed, soundfont, program
        )
    except PieceError as error:
        return {"skipped": str(error)}
    work_id = work_id_of(candidate)
    shutil.rmtree(root / work_id, ignore_errors=True)
    files = {}
    for row, samples in zip(rows, audio, strict=True):
        data = encode_flac(samples, config.sample_rate)
        write_bytes_atomically(recording_path(root, work_id, row["perf_id"], "flac"), data)
        files[row["perf_id"]] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return {"work_id": work_id, "rank": work_idx, "rows": rows, "files": files}


def render_request(config: RenderedCorpusConfig, seed: int, soundfont: Path, program: str) -> dict:
    """What decides the audio of a work (its place aside): n_works and n_jobs do not."""
    settings = asdict(config)
    del settings["n_jobs"], settings["n_works"], settings["soundfont"], settings["fluidsynth"]
    settings["ensembles"] = list(settings["ensembles"])
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "settings": settings,
        "soundfont": {"path": str(soundfont), "bytes": soundfont.stat().st_size},
        "fluidsynth": fluidsynth_version(program),
        "music21": music21.__version__,
    }


def _intact(record: dict, root: Path) -> bool:
    """A work recorded earlier whose files are all still there, with their sizes."""
    for perf_id, info in record["files"].items():
        path = recording_path(root, record["work_id"], perf_id, "flac")
        if not path.is_file() or path.stat().st_size != info["bytes"]:
            return False
    return True


def _log_tenths(scheduler: WorkScheduler) -> Callable[[int, Candidate, dict], None]:
    """Logs every tenth of `n_works` rendered."""
    reported = [len(scheduler.done) * 10 // scheduler.n_works]

    def report(rank: int, candidate: Candidate, result: dict) -> None:
        tenth = len(scheduler.done) * 10 // scheduler.n_works
        if tenth > reported[0]:
            reported[0] = tenth
            logger.info("rendered corpus: %d/%d works", len(scheduler.done), scheduler.n_works)

    return report


def ground_truth(records: list[dict]) -> pd.DataFrame:
    """One row per performance, its `GROUND_TRUTH_COLUMNS`, sorted by perf_id."""
    rows = [row for record in records for row in record["rows"]]
    return pd.DataFrame(rows, columns=list(GROUND_TRUTH_COLUMNS)).sort_values(
        "perf_id", ignore_index=True
    )


def render_corpus_collection(root: Path, config: RenderedCorpusConfig, seed: int) -> pd.DataFrame:
    """Render (or find already rendered) the corpus collection under `root`, in the `folder`
    layout (`root/<work_id>/<perf_id>.flac`); its ground truth.

    Columns: perf_id, work_id, true_offset_s, duration_s, sample_rate, and how each version was
    made (piece, ensemble, arrangement, var_structure, var_melody, var_harmony, var_texture,
    tempo, key_shift, snr_db, ...).
    `root` belongs to the generator: `rc_*` folders of works not in the collection are removed.
    ValueError when FluidSynth or a soundfont is missing (saying how to install them) or when the
    corpus runs out of usable pieces.
    """
    program = find_fluidsynth(config.fluidsynth)
    soundfont = find_soundfont(config.soundfont)
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    order, fillers = select_candidates(config, seed)
    request = render_request(config, seed, soundfont, program)
    record = read_record(root, "rendered corpus")
    same = record is not None and record.get("request") == request
    known = {r["work_id"]: r for r in record.get("works", [])} if same else {}
    skipped = dict(record.get("skipped", {})) if same else {}

    def reuse(rank: int, candidate: Candidate) -> dict | None:
        record = known.get(work_id_of(candidate))
        ok = record is not None and record.get("rank") == rank and _intact(record, root)
        return record if ok else None

    scheduler = WorkScheduler(order, config.n_works, reuse, skipped)
    started = time.perf_counter()
    args = (fillers, config, seed, root, soundfont, program)
    render_in_order(scheduler, render_work, args, config.n_jobs, _log_tenths(scheduler))
    if len(scheduler.done) < config.n_works:
        raise ValueError(
            f"only {len(scheduler.done)} of music21's corpus pieces could be rendered as works; "
            f"n_works={config.n_works} is too many"
        )
    records = [scheduler.done[rank] for rank in sorted(scheduler.done)]
    rendered = [r for r in records if known.get(r["work_id"]) is not r]
    if rendered:
        logger.info(
            "rendered corpus: rendered %d of %d works into %s in %.1f s",
            len(rendered), len(records), root, time.perf_counter() - started,
        )  # fmt: skip
    wanted = {record["work_id"] for record in records}
    for folder in root.iterdir():
        if folder.is_dir() and _WORK_DIR.match(folder.name) and folder.name not in wanted:
            shutil.rmtree(folder)
    files = {perf_id: info for record in records for perf_id, info in record["files"].items()}
    config_record = {**asdict(config), "ensembles": list(config.ensembles)}
    content = new_record(
        request, config_record, seed, files, works=records, skipped=scheduler.skipped
    )
    if record != content:
        write_record(root, content)
    return ground_truth(records)
