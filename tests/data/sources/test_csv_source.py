from pathlib import Path

import pytest

from coverhunter.data.sources.csv_source import list_performances


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_rows_keep_text_ids_resolve_paths_and_keep_extra_columns(tmp_path):
    elsewhere = tmp_path / "elsewhere" / "b.flac"
    listing = _write(
        tmp_path / "lists" / "collection.csv",
        "perf_id,work_id,path,split,artist\n"
        "007,0042,audio/a.wav,train,Ann\n"
        f"p2,0042,{elsewhere},test,\n"
        "p3,7,../up.mp3,val,Bo\n",
    )

    table = list_performances({"path": str(listing)})

    assert list(table.columns) == ["perf_id", "work_id", "path", "split", "artist"]
    assert table["perf_id"].tolist() == ["007", "p2", "p3"]
    assert table["work_id"].tolist() == ["0042", "0042", "7"]
    assert table["path"].tolist() == [
        str(tmp_path / "lists" / "audio" / "a.wav"),
        str(elsewhere),
        str(tmp_path / "up.mp3"),
    ]
    assert table["split"].tolist() == ["train", "test", "val"]
    assert table["artist"].tolist() == ["Ann", "", "Bo"]


def test_relative_paths_resolve_against_audio_root(tmp_path):
    listing = _write(tmp_path / "a.csv", "work_id,perf_id,path\nw,p,x/p.wav\n")
    root = tmp_path / "media"
    root.mkdir()

    table = list_performances({"path": str(listing), "audio_root": str(root)})

    assert list(table.columns) == ["perf_id", "work_id", "path"]
    assert table["path"].tolist() == [str(root / "x" / "p.wav")]


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"csv: CSV file .*nothing\.csv not found"):
        list_performances({"path": str(tmp_path / "nothing.csv")})


def test_missing_path_option_is_named():
    with pytest.raises(ValueError, match="csv: missing option 'path'"):
        list_performances({"audio_root": "/tmp"})


def test_missing_column_is_named(tmp_path):
    listing = _write(tmp_path / "a.csv", "perf_id,path\np,p.wav\n")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['work_id'\]"):
        list_performances({"path": str(listing)})


def test_row_with_extra_field_is_an_error(tmp_path):
    listing = _write(tmp_path / "a.csv", "perf_id,work_id,path\np1,w,a.wav\np2,w,b.wav,oops\n")
    with pytest.raises(ValueError, match=r"csv: cannot parse .*a\.csv.*line 3"):
        list_performances({"path": str(listing)})


def test_short_row_is_passed_on_with_its_line_logged(tmp_path, caplog):
    listing = _write(tmp_path / "a.csv", "perf_id,work_id,path\np1,w,a.wav\np2,w\n")
    table = list_performances({"path": str(listing)})
    assert table["path"].tolist() == [str(tmp_path / "a.wav"), ""]  # ingest rejects the empty one
    assert "empty perf_id, work_id or path on line(s) [3]" in caplog.text


def test_unknown_split_value_is_named(tmp_path):
    listing = _write(tmp_path / "a.csv", "perf_id,work_id,path,split\np1,w,a.wav,dev\n")
    with pytest.raises(ValueError, match=r"split value\(s\) \['dev'\] on line\(s\) \[2\]"):
        list_performances({"path": str(listing)})


def test_repeated_perf_id_is_passed_on_and_logged(tmp_path, caplog):
    listing = _write(tmp_path / "a.csv", "perf_id,work_id,path\np,w,a.wav\np,v,b.wav\n")
    assert list_performances({"path": str(listing)})["perf_id"].tolist() == ["p", "p"]
    assert "lists 1 perf_id(s) more than once" in caplog.text
