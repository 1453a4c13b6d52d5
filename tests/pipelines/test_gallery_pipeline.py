"""`gallery` and `coverhunter identify` right after set-up: nothing trained in the project, a
folder of the user's recordings indexed with the shipped model, a new version of one of them
identified; and what identify and gallery say when a model or the gallery is missing."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from click.testing import CliRunner
from conftest import make_project
from kedro.io.core import Version
from new_versions import new_recordings
from project_helpers import run_session
from trained_project import _RERANK, inside, trained_project_copy

from coverhunter.cli import cli, main
from coverhunter.datasets import CoverHunterModelDataset

SHIPPED = "src/coverhunter/pretrained/base"  # the catalog's `pretrained_model`, in the project


def _gallery_params(library) -> dict:
    return {
        "collection": "mine",
        "device": "cpu",
        "ingest": {"source": "folder", "path": str(library), "options": {"works": "files"}},
        "rerank": _RERANK,  # the library's recordings are 12-18 s long, as the trained run's
    }


@pytest.fixture(scope="module")
def shipped_gallery(tmp_path_factory):
    """A fresh project (nothing trained in it) whose shipped model is the shared tiny run's fine
    model, and the gallery of a flat folder of recordings built with it: the run's test works,
    never trained on, each recording named by its perf_id and so a work of its own. Returns
    (project, library manifest rows, the trained project the recordings come from)."""
    trained = trained_project_copy(tmp_path_factory, "gallery_source")
    fine = trained / "data/06_models/default/fine_model"
    model = CoverHunterModelDataset(filepath=str(fine), version=Version(None, None)).load()
    project = make_project(tmp_path_factory.mktemp("gallery"))
    CoverHunterModelDataset(filepath=str(project / SHIPPED)).save(model)

    manifest = pd.read_parquet(trained / "data/02_intermediate/default/manifest.parquet")
    library = manifest[manifest.split == "test"]
    folder = project.parent / "library"
    folder.mkdir()
    for row in library.itertuples():
        shutil.copy(trained / row.path, folder / f"{row.perf_id}{Path(row.path).suffix}")
    with inside(project):
        run_session(project, ["gallery"], _gallery_params(folder))
    return project, library, trained


def test_a_new_version_of_a_library_recording_is_found_with_the_shipped_model(
    shipped_gallery, tmp_path, monkeypatch, capsys
):
    """The new versions of test_cli.py (another tempo, noise, rate and container; not a file
    of the library), each found first: its nearest recording is a version of its work."""
    project, library, trained = shipped_gallery
    assert not (project / "data/06_models/default").exists()  # nothing trained here
    info = json.loads((project / "data/06_models/mine/gallery_index/info.json").read_text())
    assert info["model_source"] == "shipped" and info["n_performances"] == len(library)
    work_of = dict(zip(library.perf_id, library.work_id, strict=True))
    monkeypatch.chdir(project)
    queries = new_recordings(trained, tmp_path)
    for work_id, query in queries.items():
        assert main(["identify", str(query), "--collection", "mine", "--top", "3"]) == 0
        out = capsys.readouterr().out
        # rank, work, score, performance, ...: a recording of the library is a work of its own
        rows = [line.split() for line in out.splitlines() if line.lstrip()[:1].isdigit()]
        assert [row[0] for row in rows] == ["1", "2", "3"] and rows[0][1] == rows[0][3], out
        assert work_of[rows[0][1]] == work_id, out
        assert float(rows[0][2]) < 0.999  # not a recording the library holds
    # one process for many: the new versions, and a recording of the library itself
    own = library.perf_id.iloc[0]
    answers = tmp_path / "answers.json"
    files = [*map(str, queries.values()), str(trained / library.path.iloc[0])]
    assert main(["identify-batch", *files, "--collection", "mine", "--json", str(answers)]) == 0
    rows = json.loads(answers.read_text())
    assert [work_of[r["answer"]] for r in rows] == [*queries, work_of[own]]
    assert rows[-1]["answer"] == own and rows[-1]["score"] == pytest.approx(1.0, abs=1e-3)


def test_without_a_gallery_identify_names_the_command_that_builds_one(
    shipped_gallery, monkeypatch, capsys
):
    project, library, trained = shipped_gallery
    song = str(trained / library.path.iloc[0])
    monkeypatch.chdir(project)
    assert main(["identify", song, "--collection", "theirs"]) == 2
    err = capsys.readouterr().err
    assert "no gallery index for collection 'theirs'" in err
    assert (
        'kedro run --pipelines gallery --params "collection=theirs,ingest.source=folder,'
        'ingest.path=FOLDER,ingest.options.works=files"' in err
    )
    assert main(["identify", song]) == 2  # the default collection, which `kedro run` indexes
    err = capsys.readouterr().err
    assert "nothing is trained yet" in err and "--collection mine" in err
    # which the gallery pipeline leaves to `kedro run`
    params = {**_gallery_params(project.parent / "library"), "collection": "default"}
    with inside(project), pytest.raises(ValueError, match="gallery writes under collection='def"):
        run_session(project, ["gallery"], params)
    assert not (project / "data/02_intermediate/default").exists()


def _recording(path) -> str:
    """A 12 s recording of a few tones: what a user's library might hold."""
    rate = 16000
    t = np.arange(12 * rate) / rate
    tones = np.sin(2 * np.pi * np.outer([220.0, 277.2, 329.6], t)).sum(axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.2 * tones).astype(np.float32), rate)
    return str(path)


def test_with_no_model_at_all_the_messages_name_what_is_missing(kedro_project, tmp_path, capsys):
    from kedro.framework.startup import bootstrap_project

    song = _recording(tmp_path / "library" / "song.wav")
    assert main(["identify", song, "--collection", "mine"]) == 2
    err = capsys.readouterr().err
    assert "no gallery index for collection 'mine'" in err
    assert "no trained fine model of 'default'" in err
    assert f"no shipped model in {kedro_project / SHIPPED}" in err

    bootstrap_project(kedro_project)
    params = f"collection=mine,ingest.source=folder,ingest.path={tmp_path / 'library'}"
    result = CliRunner().invoke(cli, ["run", "--pipelines", "gallery", "--params", params])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"kedro run: no shipped model at {kedro_project / SHIPPED} to build")
    assert not (kedro_project / "data/02_intermediate/mine").exists()  # nothing read or written


def test_a_gallery_whose_shipped_model_is_gone_or_replaced_is_named(
    shipped_gallery, monkeypatch, capsys
):
    project, library, trained = shipped_gallery
    song = str(trained / library.path.iloc[0])
    shipped = project / SHIPPED
    monkeypatch.chdir(project)
    hidden = shipped.with_name("base.away")
    shipped.rename(hidden)
    try:
        assert main(["identify", song, "--collection", "mine"]) == 2
        gone = capsys.readouterr().err
        # another model shipped since (a new one pulled): the gallery pipeline rebuilds it
        other = CoverHunterModelDataset(filepath=str(hidden)).load()
        other["model"].neck.weight.data.mul_(0.5)
        CoverHunterModelDataset(filepath=str(shipped)).save(other)
        assert main(["identify", song, "--collection", "mine"]) == 2
        replaced = capsys.readouterr().err
    finally:
        shutil.rmtree(shipped, ignore_errors=True)
        hidden.rename(shipped)
    assert f"built by the shipped model, which {shipped} no longer holds" in gone
    assert f"built by another shipped model than the one in {shipped}" in replaced
    assert '`kedro run --pipelines gallery --params "collection=mine,' in replaced
