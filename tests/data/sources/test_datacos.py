import json
from pathlib import Path

import pytest

from coverhunter.data.sources.datacos import list_performances

METADATA = {
    "W_007": {
        "P_001": {
            "work_title": "Trade Winds",
            "work_artist": "Aki Aleong",
            "perf_title": "Trade Winds",
            "perf_artist": "Aki Aleong",
            "release_year": "1961",
            "work_id": "W_007",
            "perf_id": "P_001",
            "instrumental": "No",
            "mb_performances": {"4ce2": {"length": "175000"}},
        },
        "P_002": {"perf_artist": "Dodie Stevens", "work_id": "W_007", "perf_id": "P_002"},
    },
    "W_9": {"P_3": {"perf_artist": "X", "release_year": 1999}},
}


def _write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def test_rows_with_metadata_and_auto_layout(tmp_path):
    listing = _write_json(tmp_path / "meta" / "da-tacos_benchmark_subset_metadata.json", METADATA)
    audio = tmp_path / "audio"
    _touch(audio / "W_007" / "P_001.mp3")  # nested
    _touch(audio / "P_002.wav")  # flat

    table = list_performances({"path": str(listing), "audio_root": str(audio)})

    assert table["perf_id"].tolist() == ["P_001", "P_002", "P_3"]
    assert table["work_id"].tolist() == ["W_007", "W_007", "W_9"]
    assert table["path"].tolist() == [
        str(audio / "W_007" / "P_001.mp3"),
        str(audio / "P_002.wav"),
        str(audio / "W_9" / "P_3.wav"),  # missing: nested, first extension
    ]
    assert table["perf_artist"].tolist() == ["Aki Aleong", "Dodie Stevens", "X"]
    assert table["release_year"].tolist() == ["1961", "", "1999"]
    assert "mb_performances" not in table.columns
    assert "split" not in table.columns


def test_flat_layout_ignores_nested_files(tmp_path):
    listing = _write_json(tmp_path / "m.json", {"W_1": {"P_1": {}}})
    _touch(tmp_path / "W_1" / "P_1.wav")

    table = list_performances({"path": str(listing), "layout": "flat"})

    assert table["path"].tolist() == [str(tmp_path / "P_1.wav")]


def test_record_disagreeing_with_its_keys_is_an_error(tmp_path):
    listing = _write_json(tmp_path / "m.json", {"W_1": {"P_1": {"work_id": "W_2"}}})
    with pytest.raises(ValueError, match=r"'P_1' under work 'W_1' says work_id='W_2'"):
        list_performances({"path": str(listing)})


def test_performance_under_two_works_is_passed_on_and_logged(tmp_path, caplog):
    listing = _write_json(tmp_path / "m.json", {"W_1": {"P_1": {}}, "W_2": {"P_1": {}}})
    assert list_performances({"path": str(listing)})["perf_id"].tolist() == ["P_1", "P_1"]
    assert "lists 1 perf_id(s) more than once" in caplog.text


def test_broken_json_and_bad_options_are_named(tmp_path):
    listing = tmp_path / "m.json"
    listing.write_text('{"W_1": {"P_1": ', encoding="utf-8")
    with pytest.raises(ValueError, match=r"datacos: .*m\.json is not valid JSON"):
        list_performances({"path": str(listing)})
    _write_json(listing, {"W_1": {"P_1": {}}})
    with pytest.raises(ValueError, match=r"option layout='tree' is not one of"):
        list_performances({"path": str(listing), "layout": "tree"})
    with pytest.raises(ValueError, match=r"datacos: audio_root .*absent not found"):
        list_performances({"path": str(listing), "audio_root": str(tmp_path / "absent")})
