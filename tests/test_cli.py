"""`coverhunter identify FILE --top K` on a project after a tiny default run: a new recording of a
gallery work is found, lower precisions agree, and the error paths."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from kedro.io.core import Version, generate_timestamp
from new_versions import NEW_RATE, new_recordings
from trained_project import trained_project_copy

from coverhunter.cli import main
from coverhunter.datasets import CoverHunterModelDataset

# rank, work, score, performance, query segment start, match segment start (each "start-end")
TIME = r"\d+:\d+\.\d"
ROW = re.compile(rf"^\s+(\d+)\s+(\S+)\s+([-\d.]+)\s+(\S+)\s+({TIME})-{TIME}\s+({TIME})-{TIME}$")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return trained_project_copy(tmp_path_factory, "cli")


@pytest.fixture
def in_project(project, monkeypatch):
    monkeypatch.chdir(project)
    return project


def _test_performance(project):
    manifest = pd.read_parquet(project / "data/02_intermediate/default/manifest.parquet")
    return manifest[manifest.split == "test"].iloc[0]


def identify_rows(path: Path, capsys) -> list[tuple]:
    """`coverhunter identify path --top 3` in the current project: its result rows."""
    assert main(["identify", str(path), "--top", "3"]) == 0
    return [m.groups() for line in capsys.readouterr().out.splitlines() if (m := ROW.match(line))]


def test_a_new_recording_of_a_gallery_work_finds_that_work_first(in_project, tmp_path, capsys):
    """Not the gallery's own recording (any fixed embedder finds that at score 1.000, an
    untrained one included): a new one, which an untrained model places first for none of these
    works (see TEMPI)."""
    manifest = pd.read_parquet(in_project / "data/02_intermediate/default/manifest.parquet")
    gallery = manifest[manifest.split == "test"]
    for work_id, path in new_recordings(in_project, tmp_path).items():
        assert path.stem not in set(manifest.perf_id)
        info = sf.info(path)
        assert (info.samplerate, info.format) == (NEW_RATE, "OGG")
        rows = identify_rows(path, capsys)
        assert [int(r[0]) for r in rows] == [1, 2, 3]
        rank, found, score, perf_id, query_at, match_at = rows[0]
        assert found == work_id, (path.name, rows)
        assert perf_id in set(gallery[gallery.work_id == work_id].perf_id)
        assert float(score) < 0.999  # not a recording the gallery holds
        assert len({r[1] for r in rows}) == 3  # three different works
        assert [float(r[2]) for r in rows] == sorted((float(r[2]) for r in rows), reverse=True)


@pytest.mark.parametrize("precision", ["bfloat16", "int8"])
def test_a_lower_precision_query_finds_the_same_work_first(in_project, capsys, precision):
    known = _test_performance(in_project)
    assert main(["identify", known.path, "--top", "2", "--precision", precision]) == 0
    rows = [m.groups() for line in capsys.readouterr().out.splitlines() if (m := ROW.match(line))]
    assert (rows[0][1], rows[0][3]) == (known.work_id, known.perf_id)
    # the gallery was embedded in float32: the query's own recording is still within 1e-2
    assert float(rows[0][2]) == pytest.approx(1.0, abs=1e-2)


def test_an_int8_query_asked_for_cuda_embeds_on_the_cpu(in_project, capsys):
    # int8 is CPU-only: with a CUDA device the chunks go to the quantised CPU copy; without
    # CUDA, `--device cpu` runs the same path
    known = _test_performance(in_project)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    argv = ["identify", known.path, "--top", "1", "--precision", "int8", "--device", device]
    assert main(argv) == 0
    rows = [m.groups() for line in capsys.readouterr().out.splitlines() if (m := ROW.match(line))]
    assert (rows[0][1], rows[0][3]) == (known.work_id, known.perf_id)


def test_an_unknown_device_is_a_usage_error(in_project, capsys):
    known = _test_performance(in_project)
    assert main(["identify", known.path, "--device", "gpu0"]) == 2
    assert "gpu0" in capsys.readouterr().err


def test_an_unknown_precision_is_a_usage_error(in_project, capsys):
    known = _test_performance(in_project)
    assert main(["identify", known.path, "--precision", "float8"]) == 2
    assert "float8" in capsys.readouterr().err


def test_a_missing_file_is_named(in_project, capsys):
    assert main(["identify", "no/such/song.wav"]) == 2
    assert "no/such/song.wav: no such file" in capsys.readouterr().err


def test_an_unreadable_file_is_named(in_project, tmp_path, capsys):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF" + bytes(range(256)) * 4)
    assert main(["identify", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"cannot read {bad}" in err and "corrupt" in err


def test_a_missing_index_says_to_run_kedro_first(in_project, capsys):
    known = _test_performance(in_project)
    assert main(["identify", known.path, "--collection", "never_indexed"]) == 2
    err = capsys.readouterr().err
    assert "no gallery index for collection 'never_indexed'" in err and "kedro run" in err


def test_outside_a_project_the_command_says_so(tmp_path, monkeypatch, capsys):
    song = tmp_path / "song.wav"
    song.write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert main(["identify", str(song)]) == 2
    assert "no Kedro project" in capsys.readouterr().err


def test_a_model_that_did_not_build_the_index_is_refused(tmp_path_factory, monkeypatch, capsys):
    project = trained_project_copy(tmp_path_factory, "cli_mismatch")
    folder = str(project / "data/06_models/default/fine_model")
    model = CoverHunterModelDataset(filepath=folder, version=Version(None, None)).load()
    model["model"].bottleneck.weight.data.mul_(np.float32(0.5))
    CoverHunterModelDataset(filepath=folder, version=Version(None, generate_timestamp())).save(
        model
    )
    monkeypatch.chdir(project)
    assert main(["identify", _test_performance(project).path]) == 2
    err = capsys.readouterr().err
    assert "the gallery index was built by model" in err and "indexing" in err


def _decision_line(out: str) -> str:
    (line,) = [x for x in out.splitlines() if x.startswith(("A version of", "No known work"))]
    return line


def test_identify_says_whether_the_recording_is_a_version_and_where_it_matches(in_project, capsys):
    decision = json.loads(
        (in_project / "data/06_models/default/gallery_index/decision.json").read_text()
    )
    threshold = decision["thresholds"]["far_0.01"]["threshold"]
    known = _test_performance(in_project)
    assert main(["identify", known.path, "--top", "2"]) == 0
    out = capsys.readouterr().out
    line = _decision_line(out)
    assert line.startswith(f"A version of {known.work_id} (score ")
    assert f"{threshold:.3f}, the threshold at 1% false accepts" in line
    rows = [m.groups() for x in out.splitlines() if (m := ROW.match(x))]
    assert (rows[0][1], rows[0][3]) == (known.work_id, known.perf_id)
    # Its own recording: the aligned path starts at the start in both.
    assert rows[0][4] == rows[0][5] == "0:00.0"


def test_a_batch_answers_known_and_unknown_works_in_one_process(in_project, tmp_path, capsys):
    """Gallery recordings are answered with their work; recordings of works outside the gallery
    (the training split: music, but no version of any gallery work) mostly "no known work"."""
    manifest = pd.read_parquet(in_project / "data/02_intermediate/default/manifest.parquet")
    known = manifest[manifest.split == "test"].drop_duplicates("work_id").head(4)
    unknown = manifest[manifest.split == "train"].drop_duplicates("work_id").head(8)
    listing = tmp_path / "queries.txt"
    absolute = [str((in_project / p).resolve()) for p in [*known.path, *unknown.path]]
    listing.write_text("\n".join([*absolute, "missing.wav"]) + "\n")
    out_json = tmp_path / "answers.json"
    out_csv = tmp_path / "answers.csv"
    argv = ["identify-batch", str(listing), "--json", str(out_json), "--csv", str(out_csv)]
    assert main(argv) == 0
    printed = capsys.readouterr().out.splitlines()
    rows = json.loads(out_json.read_text())
    assert len(rows) == len(printed) == len(known) + len(unknown) + 1
    assert pd.read_csv(out_csv).file.tolist() == [r["file"] for r in rows]
    assert [r["file"] for r in rows[:-1]] == absolute
    for row, work in zip(rows, known.work_id, strict=False):
        assert row["answer"] == work and row["score"] >= row["threshold"]
        assert row["match_end_s"] > row["match_start_s"] >= 0
    refused = [r for r in rows[len(known) : -1] if r["answer"] == "no known work"]
    assert len(refused) >= len(unknown) // 2, rows
    assert rows[-1]["answer"] == "error" and "no such file" in rows[-1]["error"]


def test_a_batch_from_standard_input_answers_each_path_as_it_comes(in_project, monkeypatch, capsys):
    known = _test_performance(in_project)
    path = str((in_project / known.path).resolve())
    answered = []

    def lines():  # the second path is only read once the first one's answer is printed
        yield path + "\n"
        answered.append(capsys.readouterr().out)
        yield "\n# a comment, then a file that is not there\nmissing.wav\n"

    monkeypatch.setattr("sys.stdin", (line for chunk in lines() for line in chunk.splitlines(True)))
    assert main(["identify-batch", "-"]) == 0
    rest = capsys.readouterr().out
    assert answered[0].startswith(f"{path}  {known.work_id}  ")
    assert rest.strip() == "missing.wav  error: missing.wav: no such file"
