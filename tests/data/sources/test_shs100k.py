import logging
from pathlib import Path

import pytest

from coverhunter.data.sources.shs100k import list_performances

# The release's `list`: set_id, ver_id, title, performer, url, status; tab separated, no header.
LIST = (
    "007\t0\tYesterday\tThe Beatles\thttps://www.youtube.com/watch?v=aaa\tTrue\n"
    "007\t1\tYesterday\tRay Charles\thttps://www.youtube.com/watch?v=bbb\tFalse\n"
    "\n"
    "12\t0\tHelp\tThe Beatles\thttps://www.youtube.com/watch?v=ccc\tTrue\n"
    "12\t3\tHelp\tTina Turner\thttps://www.youtube.com/watch?v=ddd\tTrue\n"
)
SPLITS = {
    "SHS100K-TRAIN": "007\t0\n007\t1\n",
    "SHS100K-VAL": "12\t3\n",
    "SHS100K-TEST": "12\t0\n",
}


def _release(folder: Path, list_text: str = LIST, splits: dict[str, str] = SPLITS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "list").write_text(list_text, encoding="utf-8")
    for name, text in splits.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_split_files_tag_list_rows_and_audio_extension_follows_the_files(tmp_path):
    release = _release(tmp_path / "SHS100K")
    audio = tmp_path / "audio"
    audio.mkdir()
    (audio / "007_1.flac").write_bytes(b"")

    table = list_performances({"path": str(release), "audio_root": str(audio)})

    assert table.to_dict("list") == {
        "perf_id": ["007_0", "007_1", "12_3", "12_0"],
        "work_id": ["007", "007", "12", "12"],
        # 007_1 exists as flac; the others do not exist and get the first extension.
        "path": [str(audio / f"{p}") for p in ["007_0.wav", "007_1.flac", "12_3.wav", "12_0.wav"]],
        "split": ["train", "train", "val", "test"],
        "version_id": ["0", "1", "3", "0"],
        "title": ["Yesterday", "Yesterday", "Help", "Help"],
        "performer": ["The Beatles", "Ray Charles", "Tina Turner", "The Beatles"],
        "url": [f"https://www.youtube.com/watch?v={v}" for v in ["aaa", "bbb", "ddd", "ccc"]],
        "status": ["True", "False", "True", "True"],
    }


def test_pattern_with_work_folders(tmp_path):
    release = _release(tmp_path)

    table = list_performances(
        {"path": str(release), "filename_pattern": "{work_id}/{version_id}", "extensions": "mp3"}
    )

    assert table["path"].tolist()[:2] == [
        str(tmp_path / "007" / "0.mp3"),
        str(tmp_path / "007" / "1.mp3"),
    ]


def test_no_split_files_lists_every_row_without_split(tmp_path):
    release = _release(tmp_path, splits={})

    table = list_performances({"path": str(release), "split_files": {}})

    assert "split" not in table.columns
    assert table["perf_id"].tolist() == ["007_0", "007_1", "12_0", "12_3"]


def test_rows_outside_the_splits_are_left_out_and_logged(tmp_path, caplog):
    release = _release(tmp_path, splits={"only-train": "12\t3\n99\t5\n"})

    with caplog.at_level(logging.INFO):
        table = list_performances({"path": str(release), "split_files": {"train": "only-train"}})

    assert table["perf_id"].tolist() == ["12_3", "99_5"]
    # 99_5 is in a split file but not in `list`: kept, without metadata.
    assert table.loc[1, ["version_id", "title", "status"]].tolist() == ["5", "", ""]
    assert "left out 3 row(s)" in caplog.text
    assert "1 performance(s) of the split files are not in" in caplog.text


def test_malformed_list_line_is_named(tmp_path):
    release = _release(tmp_path, list_text=LIST + "13 0 no tabs here\n")
    with pytest.raises(ValueError, match=r"shs100k: .*list line 6: expected up to 6 .* found 1"):
        list_performances({"path": str(release)})


def test_performance_in_two_splits_is_an_error(tmp_path):
    release = _release(tmp_path, splits={**SPLITS, "SHS100K-TEST": "12\t0\n007\t1\n"})
    with pytest.raises(
        ValueError, match=r"SHS100K-TEST line 2: \('007', '1'\) is already in split train"
    ):
        list_performances({"path": str(release)})


def test_missing_list_and_split_files_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"shs100k: list file .*/list not found"):
        list_performances({"path": str(tmp_path)})
    release = _release(tmp_path, splits={"SHS100K-TRAIN": ""})
    with pytest.raises(ValueError, match=r"shs100k: val split file .*SHS100K-VAL not found"):
        list_performances({"path": str(release)})


def test_bad_pattern_is_named(tmp_path):
    release = _release(tmp_path)
    with pytest.raises(ValueError, match=r"filename_pattern='\{set\}' is not valid"):
        list_performances({"path": str(release), "filename_pattern": "{set}"})
