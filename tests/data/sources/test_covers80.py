from pathlib import Path

import pytest

from coverhunter.data.sources.covers80 import list_performances

LIST1 = (
    "A_Whiter_Shade_Of_Pale/annie_lennox+Medusa+03-A_Whiter_Shade_Of_Pale\n007_Theme/a+b+01-007\n"
)
LIST2 = "A_Whiter_Shade_Of_Pale/procol_harum+Greatest_Hits+2-A_Whiter_Shade_Of_Pale\n\n007_Theme/c+d+02-007\n"


def _release(root: Path, list1: str = LIST1, list2: str = LIST2) -> Path:
    """The covers80 layout: coversongs/covers32k/{list1.list,list2.list,<song>/<file>.mp3}."""
    covers32k = root / "coversongs" / "covers32k"
    covers32k.mkdir(parents=True)
    (covers32k / "list1.list").write_text(list1, encoding="utf-8")
    (covers32k / "list2.list").write_text(list2, encoding="utf-8")
    for line in (list1 + list2).split():
        (covers32k / f"{line}.mp3").parent.mkdir(parents=True, exist_ok=True)
        (covers32k / f"{line}.mp3").write_bytes(b"")
    return covers32k


def test_lists_give_two_performances_per_work(tmp_path):
    covers32k = _release(tmp_path)

    # The parent folder is accepted too: covers32k is found inside it.
    table = list_performances({"path": str(covers32k.parent)})

    assert table.to_dict("list") == {
        "perf_id": [
            "annie_lennox+Medusa+03-A_Whiter_Shade_Of_Pale",
            "a+b+01-007",
            "procol_harum+Greatest_Hits+2-A_Whiter_Shade_Of_Pale",
            "c+d+02-007",
        ],
        "work_id": ["A_Whiter_Shade_Of_Pale", "007_Theme"] * 2,
        "path": [
            str(
                covers32k
                / "A_Whiter_Shade_Of_Pale"
                / "annie_lennox+Medusa+03-A_Whiter_Shade_Of_Pale.mp3"
            ),
            str(covers32k / "007_Theme" / "a+b+01-007.mp3"),
            str(
                covers32k
                / "A_Whiter_Shade_Of_Pale"
                / "procol_harum+Greatest_Hits+2-A_Whiter_Shade_Of_Pale.mp3"
            ),
            str(covers32k / "007_Theme" / "c+d+02-007.mp3"),
        ],
        "list_file": ["list1", "list1", "list2", "list2"],
    }


def test_converted_copy_is_read_from_audio_root(tmp_path):
    covers32k = _release(tmp_path)
    wav = tmp_path / "wav_16k"
    (wav / "007_Theme").mkdir(parents=True)
    (wav / "007_Theme" / "a+b+01-007.wav").write_bytes(b"")

    table = list_performances(
        {"path": str(covers32k), "audio_root": str(wav), "lists": "list1.list"}
    )

    assert table["path"].tolist() == [
        str(wav / "A_Whiter_Shade_Of_Pale" / "annie_lennox+Medusa+03-A_Whiter_Shade_Of_Pale.mp3"),
        str(wav / "007_Theme" / "a+b+01-007.wav"),
    ]


def test_line_without_song_folder_is_named(tmp_path):
    covers32k = _release(tmp_path, list2=LIST2 + "just_a_file\n")
    with pytest.raises(ValueError, match=r"covers80: .*list2\.list line 4: expected <song>/<file>"):
        list_performances({"path": str(covers32k)})


def test_repeated_file_stem_is_passed_on_and_logged(tmp_path, caplog):
    covers32k = _release(tmp_path, list2="A_Whiter_Shade_Of_Pale/x\n007_Theme/x\n")
    table = list_performances({"path": str(covers32k)})
    assert (table["perf_id"] == "x").sum() == 2
    assert "lists 1 perf_id(s) more than once" in caplog.text and "'x'" in caplog.text


def test_missing_list_file_is_named(tmp_path):
    covers32k = _release(tmp_path)
    (covers32k / "list2.list").unlink()
    with pytest.raises(ValueError, match=r"covers80: list file .*list2\.list not found"):
        list_performances({"path": str(covers32k)})
