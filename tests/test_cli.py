"""`coverhunter identify FILE --top K` on a project after a tiny default run, and its error paths."""

import re

import numpy as np
import pandas as pd
import pytest
import torch
from kedro.io.core import Version, generate_timestamp
from trained_project import trained_project_copy

from coverhunter.cli import main
from coverhunter.datasets import CoverHunterModelDataset

ROW = re.compile(r"^\s+(\d+)\s+(\S+)\s+([-\d.]+)\s+(\S+)\s+(\d+:\d+\.\d)\s+(\d+:\d+\.\d)$")


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


def test_a_gallery_recording_finds_its_own_work_first(in_project, capsys):
    known = _test_performance(in_project)
    assert main(["identify", known.path, "--top", "3"]) == 0
    out = capsys.readouterr().out
    rows = [m.groups() for line in out.splitlines() if (m := ROW.match(line))]
    assert [int(r[0]) for r in rows] == [1, 2, 3]
    rank, work_id, score, perf_id, query_at, match_at = rows[0]
    assert (work_id, perf_id) == (known.work_id, known.perf_id)
    assert float(score) == pytest.approx(1.0, abs=1e-3)
    assert (query_at, match_at) == ("0:00.0", "0:00.0")
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
