import logging
from pathlib import Path

import pytest

from coverhunter.data.sources._common import find_audio
from coverhunter.data.sources.folder import list_performances


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_lists_work_folders_sorted_and_ignores_other_files(tmp_path, caplog):
    _touch(tmp_path / "w2" / "b.mp3")
    _touch(tmp_path / "007" / "0001.WAV")
    _touch(tmp_path / "007" / "a.flac")
    _touch(tmp_path / "007" / "notes.txt")
    _touch(tmp_path / "007" / ".hidden.wav")
    _touch(tmp_path / ".cache" / "c.wav")
    _touch(tmp_path / "loose.wav")
    _touch(tmp_path / "w2" / "live" / "deep.ogg")

    with caplog.at_level(logging.WARNING):
        table = list_performances({"path": str(tmp_path)})

    assert table.to_dict("list") == {
        "perf_id": ["0001", "a", "b"],
        "work_id": ["007", "007", "w2"],
        "path": [
            str(tmp_path / "007" / "0001.WAV"),
            str(tmp_path / "007" / "a.flac"),
            str(tmp_path / "w2" / "b.mp3"),
        ],
    }
    assert "ignored 2 audio file(s)" in caplog.text


def test_extensions_option_limits_the_listing(tmp_path):
    _touch(tmp_path / "w" / "a.wav")
    _touch(tmp_path / "w" / "b.mp3")

    table = list_performances({"path": str(tmp_path), "extensions": [".MP3"]})

    assert table["perf_id"].tolist() == ["b"]


def test_same_stem_twice_is_listed_and_logged_for_ingest_to_reject(tmp_path, caplog):
    _touch(tmp_path / "w1" / "p.wav")
    _touch(tmp_path / "w2" / "p.mp3")
    table = list_performances({"path": str(tmp_path)})
    assert table["perf_id"].tolist() == ["p", "p"]
    assert "lists 1 perf_id(s) more than once (the first is kept)" in caplog.text


def test_missing_root_and_empty_root_are_errors(tmp_path):
    with pytest.raises(ValueError, match=r"folder: root folder .*absent not found"):
        list_performances({"path": str(tmp_path / "absent")})
    _touch(tmp_path / "w" / "readme.txt")
    with pytest.raises(ValueError, match="folder: no audio files"):
        list_performances({"path": str(tmp_path)})


def test_find_audio_prefers_existing_files_in_order(tmp_path):
    flat, nested = tmp_path / "P_1.2", tmp_path / "W" / "P_1.2"
    assert find_audio([flat, nested], ["wav", "mp3"]) == tmp_path / "P_1.2.wav"
    _touch(tmp_path / "W" / "P_1.2.mp3")
    assert find_audio([flat, nested], ["wav", "mp3"]) == tmp_path / "W" / "P_1.2.mp3"
    _touch(tmp_path / "P_1.2.mp3")
    assert find_audio([flat, nested], ["wav", "mp3"]) == tmp_path / "P_1.2.mp3"


def test_works_files_makes_every_audio_file_below_the_root_a_work_of_its_own(tmp_path, caplog):
    """A library with no grouping into works (what `coverhunter identify` can search)."""
    _touch(tmp_path / "loose.wav")
    _touch(tmp_path / "Artist" / "Album" / "01 Song.MP3")
    _touch(tmp_path / "Artist" / "notes.txt")
    _touch(tmp_path / ".cache" / "c.wav")

    with caplog.at_level(logging.WARNING):
        table = list_performances({"path": str(tmp_path), "works": "files"})

    assert table.to_dict("list") == {
        "perf_id": ["Artist - Album - 01 Song", "loose"],
        "work_id": ["Artist - Album - 01 Song", "loose"],
        "path": [str(tmp_path / "Artist" / "Album" / "01 Song.MP3"), str(tmp_path / "loose.wav")],
    }
    assert "ignored" not in caplog.text
    with pytest.raises(ValueError, match=r"option works='songs' is not one of"):
        list_performances({"path": str(tmp_path), "works": "songs"})
    with pytest.raises(ValueError, match=r"folder: no audio files \(.*\) found below"):
        list_performances({"path": str(tmp_path / "Artist"), "works": "files", "extensions": "ogg"})
