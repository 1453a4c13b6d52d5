"""`coverhunter identify` fed junk: every bad query ends with exit code 2 and one line naming the
file and the reason, the reason ingest would give where ingest would set the file aside; a query
imports no mlflow and writes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml
from fault_helpers import tree
from trained_project import trained_project_copy

from coverhunter.audio.cqt import CQTConfig
from coverhunter.cli import format_results, main
from coverhunter.data.validation import ValidationConfig, check_recording
from coverhunter.serving import query as query_module
from coverhunter.serving.query import cqt_extractor

RATE = 16000


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return trained_project_copy(tmp_path_factory, "faults_identify")


@pytest.fixture
def in_project(project, monkeypatch):
    monkeypatch.chdir(project)
    return project


def _gallery_audio(project) -> tuple[np.ndarray, int]:
    manifest = pd.read_parquet(project / "data/02_intermediate/default/manifest.parquet")
    known = manifest[manifest.split == "test"].iloc[0]
    return sf.read(project / known.path, dtype="float32")


def _ingest_reason(project, path) -> str | None:
    """What ingest, with the project's own settings, says of the file."""
    ingest = yaml.safe_load((project / "conf/base/parameters_ingest.yml").read_text())["ingest"]
    config = ValidationConfig(
        sample_rate=ingest["sample_rate"],
        min_duration_s=ingest["min_duration_s"],
        max_duration_s=ingest["max_duration_s"],
        silence_peak_db=ingest["silence_peak_db"],
    )
    return check_recording(str(path), config).reason


def _refused(argv, capfd) -> str:
    """Run the command; it must end with exit code 2 and exactly one line on stderr."""
    assert main(argv) == 2
    captured = capfd.readouterr()  # file-descriptor level: libsndfile/libmpg123 writes too
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert captured.out == ""
    return lines[0]


@pytest.mark.parametrize(
    "name,seconds,reason",
    [
        ("half_second.wav", 0.5, "too short (0.50 s < 10 s)"),
        ("five_seconds.wav", 5.0, "too short (5.00 s < 10 s)"),
    ],
)
def test_a_clip_ingest_would_reject_as_too_short_is_refused_with_its_reason(
    in_project, tmp_path, capfd, name, seconds, reason
):
    audio, rate = _gallery_audio(in_project)
    clip = tmp_path / name
    sf.write(clip, audio[: int(seconds * rate)], rate)  # real music, cut short
    line = _refused(["identify", str(clip)], capfd)
    assert _ingest_reason(in_project, clip) == reason
    assert line.startswith(f"coverhunter identify: {clip}: {reason}")


@pytest.mark.parametrize("seconds", [2.0, 60.0])
def test_digital_silence_is_refused_as_ingest_refuses_it(in_project, tmp_path, capfd, seconds):
    silence = tmp_path / f"silence_{seconds:g}s.wav"
    sf.write(silence, np.zeros(int(seconds * RATE), dtype=np.float32), RATE)
    line = _refused(["identify", str(silence)], capfd)
    reason = _ingest_reason(in_project, silence)
    assert reason == "silent (peak -inf dBFS below -60.0 dBFS)"
    assert line.startswith(f"coverhunter identify: {silence}: {reason}")


@pytest.mark.parametrize("minutes", [0.5, 20.0])
def test_white_noise_is_refused_as_no_music(in_project, tmp_path, capfd, minutes):
    noise = tmp_path / f"white_{minutes:g}min.wav"
    rng = np.random.default_rng(0)
    sf.write(noise, 0.3 * rng.standard_normal(int(minutes * 60 * RATE)).astype(np.float32), RATE)
    assert _ingest_reason(in_project, noise) is None  # loud and long: ingest would keep it
    line = _refused(["identify", str(noise)], capfd)
    assert line.startswith(f"coverhunter identify: {noise}: no tonal structure")


def test_music_under_as_much_noise_is_still_identified(in_project, tmp_path, capsys):
    audio, rate = _gallery_audio(in_project)
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(audio.shape[0]).astype(np.float32)
    noise *= np.sqrt(np.mean(audio**2) / np.mean(noise**2))  # 0 dB SNR
    noisy = tmp_path / "noisy.wav"
    sf.write(noisy, 0.5 * (audio + noise) / np.max(np.abs(audio + noise)), rate)
    assert main(["identify", str(noisy), "--top", "1"]) == 0
    assert "Works most likely covered by" in capsys.readouterr().out


def test_a_text_file_named_mp3_is_refused_as_text_without_decoder_noise(
    in_project, tmp_path, capfd
):
    text = tmp_path / "notes.mp3"
    text.write_text("these are my notes, not a song\n" * 20)
    line = _refused(["identify", str(text)], capfd)
    assert line.startswith(f"coverhunter identify: cannot read {text}: the file holds text")
    assert "does not exist" not in line and "MPEG" not in line


def test_a_symbolic_link_loop_is_named(in_project, tmp_path, capfd):
    (tmp_path / "a.wav").symlink_to(tmp_path / "b.wav")
    (tmp_path / "b.wav").symlink_to(tmp_path / "a.wav")
    line = _refused(["identify", str(tmp_path / "a.wav")], capfd)
    assert line == f"coverhunter identify: {tmp_path / 'a.wav'}: a loop of symbolic links, no file"


def test_a_folder_is_named(in_project, tmp_path, capfd):
    line = _refused(["identify", str(tmp_path)], capfd)
    assert line == f"coverhunter identify: {tmp_path}: a folder, not an audio file"


def test_long_ids_keep_the_columns_in_line():
    results = pd.DataFrame(
        {
            "rank": [1, 2],
            "work_id": ["a_work_id_much_longer_than_sixteen", "w2"],
            "score": [0.91, 0.5],
            "perf_id": ["p1", "a_performance_id_longer_than_twenty_chars"],
            "query_start_s": [0.0, 75.0],
            "match_start_s": [30.0, 0.0],
        }
    )
    header, *rows = format_results(results, "q.wav").splitlines()[1:]
    for column in ("score", "performance", "query at"):
        starts = {line.index(value) for line, value in zip(rows, _cells(rows, column), strict=True)}
        at = header.index(column)
        assert all(abs(s - at) <= len(column) for s in starts), (column, header, rows)
    assert [len(line) for line in rows] == [len(header)] * 2


def _cells(rows, column):
    index = {"score": 2, "performance": 3, "query at": 4}[column]
    return [line.split()[index] for line in rows]


IDENTIFY_IN_A_FRESH_PROCESS = """
import json, sys, time
started = time.perf_counter()
from coverhunter.cli import main
code = main(["identify", sys.argv[1], "--top", "1"])
print("RESULT", code, round(time.perf_counter() - started, 2))
print("IMPORTED", json.dumps({name: name in sys.modules for name in sys.argv[2:]}))
"""
# What a query never needs: MLflow and the Kedro plugins (no run), Kedro's session and context
# and kedro-datasets' pandas datasets (they import SQLAlchemy; a query reads its files itself),
# and, once an earlier query kept the CQT kernels, nnAudio and the scipy.signal it imports.
NOT_IMPORTED = (
    "nnAudio",
    "scipy.signal",
    "mlflow",
    "kedro_mlflow",
    "kedro_viz",
    "kedro.framework.session",
    "kedro.framework.context",
    "kedro_datasets.pandas",
    "sqlalchemy",
)


def test_a_query_imports_no_mlflow_and_writes_nothing(project, tmp_path, monkeypatch):
    manifest = pd.read_parquet(project / "data/02_intermediate/default/manifest.parquet")
    known = manifest[manifest.split == "test"].iloc[0]
    query = tmp_path / "query.flac"
    sf.write(query, *sf.read(project / known.path, dtype="float32"))
    info = json.loads((project / "data/06_models/default/gallery_index/info.json").read_text())
    cache = tmp_path / "user_cache"
    monkeypatch.setattr(query_module, "_EXTRACTORS", {})  # made here, so kept in `cache`
    cqt_extractor(CQTConfig(**info["cqt"]), "cpu", cache / "coverhunter")  # an earlier query's
    before = tree(project)
    result = subprocess.run(
        [sys.executable, "-c", IDENTIFY_IN_A_FRESH_PROCESS, str(query), *NOT_IMPORTED],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        # this checkout's code (PYTHONPATH), not whichever the environment has installed
        env={
            "KEDRO_DISABLE_TELEMETRY": "true",
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": os.pathsep.join(sys.path),
            "XDG_CACHE_HOME": str(cache),
        },
    )
    assert result.returncode == 0, result.stderr[-2000:]
    code, seconds = result.stdout.split("RESULT")[1].split("IMPORTED")[0].split()
    assert code == "0" and known.work_id in result.stdout
    imported = json.loads(result.stdout.split("IMPORTED")[1])
    assert not any(imported.values()), imported
    assert tree(project) == before  # no .viz/stats.json, no MLflow run, no session store
    print(json.dumps({"identify_seconds_in_a_fresh_process": float(seconds)}))
