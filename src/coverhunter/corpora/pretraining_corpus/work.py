"""One pretraining work, rendered and turned into its versions' log-CQT in a worker process."""

from __future__ import annotations

import functools
import io
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

from coverhunter.audio.cqt import CQTConfig, CQTExtractor, log_cqt_batch
from coverhunter.audio.io import peak_normalise
from coverhunter.corpora.pretraining_corpus.fingerprints import version_fingerprint
from coverhunter.corpora.recording import encode_flac
from coverhunter.corpora.rendered_corpus.config import RenderedCorpusConfig
from coverhunter.corpora.rendered_corpus.corpus_pieces import Candidate, PieceError
from coverhunter.corpora.rendered_corpus.versions import GROUND_TRUTH_COLUMNS, render_work_audio
from coverhunter.corpora.rendered_corpus.works import work_id_of
from coverhunter.data.atomic import write_bytes_atomically
from coverhunter.data.sources.folder import recording_path

# A work's rows, and the build's table: the ground truth of the rendered corpus, with `path`
# after the ids.
TABLE_COLUMNS = (*GROUND_TRUTH_COLUMNS[:2], "path", *GROUND_TRUTH_COLUMNS[2:])


def one_thread() -> None:
    """Worker start: one torch thread each, the processes share the cores."""
    torch.set_num_threads(1)


@functools.lru_cache(maxsize=2)
def _extractor(cqt: CQTConfig) -> CQTExtractor:
    return CQTExtractor(cqt)


def build_work(
    candidate: Candidate,
    rank: int,
    fillers: tuple[Candidate, ...],
    config: RenderedCorpusConfig,
    seed: int,
    soundfont: Path,
    program: str,
    cqt: CQTConfig,
    request_key: str,
    audio_root: Path | None,
) -> dict[str, Any]:
    """Render one work and compute its versions' log-CQT (in the calling process, on the CPU).

    -> {"work_id", "rank", "rows" (`TABLE_COLUMNS`), "features": [(T, F) float16], "fingerprints"}, or
    {"skipped": reason} when the piece cannot be a work. With `audio_root`, the versions are
    also written as FLAC under `audio_root/<work_id>/` and the rows' `path` names them.
    """
    try:
        rows, audio = render_work_audio(candidate, rank, fillers, config, seed, soundfont, program)
    except PieceError as error:
        return {"skipped": str(error)}
    work_id = work_id_of(candidate)
    sr = config.sample_rate
    if audio_root is not None:
        shutil.rmtree(audio_root / work_id, ignore_errors=True)
    signals = []
    for row, samples in zip(rows, audio, strict=True):
        # The samples a FLAC file of the version holds (16 bits), kept or not: the features are
        # what feature_cqt computes from the file.
        data = encode_flac(samples, sr)
        row["path"] = ""
        if audio_root is not None:
            path = recording_path(audio_root, work_id, row["perf_id"], "flac")
            write_bytes_atomically(path, data)
            row["path"] = str(path)
        signals.append(peak_normalise(sf.read(io.BytesIO(data), dtype="float32")[0]))
    features = log_cqt_batch(signals, _extractor(cqt))
    return {
        "work_id": work_id,
        "rank": rank,
        "rows": rows,
        "features": [array.astype(np.float16) for array in features],
        "fingerprints": [
            version_fingerprint(request_key, work_id, rank, v) for v in range(len(rows))
        ],
    }
