"""A generated collection read back: the folder layout with the generator's ground truth."""

import logging
from pathlib import Path

import pandas as pd
import pytest

from coverhunter.data.sources._common import SourceError
from coverhunter.data.sources.generated import (
    empty_ground_truth,
    generated_root,
    list_performances,
)
from coverhunter.data.sources.registry import list_source


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def _truth() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "perf_id": ["w2_v00", "w1_v01", "w1_v00"],
            "work_id": ["w2", "w1", "w1"],
            "true_offset_s": [0.0, 1.5, 2.25],
            "var_texture": ["block", "strum", "parts"],
        }
    )


def test_the_folder_is_listed_with_the_ground_truth_joined_by_perf_id(tmp_path):
    for perf_id, work_id in (("w1_v00", "w1"), ("w1_v01", "w1"), ("w2_v00", "w2")):
        _touch(tmp_path / work_id / f"{perf_id}.flac")

    listing = list_performances(tmp_path, _truth(), "synthetic")

    assert list(listing.columns) == ["perf_id", "work_id", "path", "true_offset_s", "var_texture"]
    assert listing.to_dict("list") == {
        "perf_id": ["w1_v00", "w1_v01", "w2_v00"],
        "work_id": ["w1", "w1", "w2"],
        "path": [
            str(tmp_path / w / f"{p}.flac")
            for p, w in (("w1_v00", "w1"), ("w1_v01", "w1"), ("w2_v00", "w2"))
        ],
        "true_offset_s": [2.25, 1.5, 0.0],
        "var_texture": ["parts", "strum", "block"],
    }


def test_the_ground_truth_decides_which_performances_there_are(tmp_path, caplog):
    _touch(tmp_path / "w1" / "w1_v00.flac")
    _touch(tmp_path / "w2" / "w2_v00.flac")
    _touch(tmp_path / "w1" / "w1_v07.flac")  # not the generator's: left out, named
    _touch(tmp_path / "w1" / "notes.wav")  # not its format: not even listed

    with caplog.at_level(logging.WARNING):
        listing = list_performances(tmp_path, _truth(), "rendered_corpus")

    assert listing.perf_id.tolist() == ["w1_v00", "w1_v01", "w2_v00"]
    # The missing file keeps its layout path, so that ingest sets it aside as missing.
    assert listing.set_index("perf_id").path["w1_v01"] == str(tmp_path / "w1" / "w1_v01.flac")
    assert "left out 1 audio file(s)" in caplog.text and "w1_v07" in caplog.text
    assert "notes" not in caplog.text


def test_no_ground_truth_is_an_error_naming_the_source(tmp_path):
    _touch(tmp_path / "w1" / "w1_v00.flac")
    with pytest.raises(SourceError, match="synthetic: the generator described no performances"):
        list_performances(tmp_path, empty_ground_truth(), "synthetic")


def test_the_root_is_the_sources_own_setting_expanded_and_resolved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    ingest = {"source": "synthetic", "synthetic": {"root": "data/01_raw/synthetic"}}
    assert generated_root(ingest) == tmp_path.resolve() / "data" / "01_raw" / "synthetic"
    ingest = {"source": "rendered_corpus", "rendered_corpus": {"root": "~/corpus"}}
    assert generated_root(ingest) == (tmp_path / "home" / "corpus").resolve()
    with pytest.raises(SourceError, match="ingest.rendered_corpus needs `root`"):
        generated_root({"source": "rendered_corpus", "rendered_corpus": {"n_works": 3}})


def test_the_registry_reads_a_generated_source_from_its_root(tmp_path):
    for perf_id, work_id in (("w1_v00", "w1"), ("w1_v01", "w1"), ("w2_v00", "w2")):
        _touch(tmp_path / "corpus" / work_id / f"{perf_id}.flac")
    ingest = {"source": "rendered_corpus", "rendered_corpus": {"root": str(tmp_path / "corpus")}}
    listing = list_source(ingest, _truth())
    assert listing.path.map(lambda p: Path(p).is_file()).all() and len(listing) == 3
