import json
import logging
from pathlib import Path

import pytest

from coverhunter.data.sources.discogs_vi import list_performances


def _video(video_id: str) -> dict:
    return {
        "url": f"https://www.youtube.com/watch?v={video_id}",
        "source": "youtube_query",
        "match_type": 1,
    }


def _version(version_id: str, title: str, artists: list[str], videos: list[str]) -> dict:
    track = {"track_title": title, "track_artist_names": [], "release_artist_names": artists}
    return {
        "version_id": version_id,
        "tracks": [track],
        "youtube_video": [_video(v) for v in videos],
    }


CLIQUES = [
    {
        "clique_id": "0001-c1",
        "versions": [
            _version("v1", "I Believe", ["Les Humphries Singers"], ["kv-jdTn_F3Q", "alt00000001"]),
            _version("v2", "I Believe", ["Frankie Laine", "Others"], ["0a1b2c3d4e5"]),
            _version("v3", "I Believe", ["Nobody"], []),
        ],
    },
    {
        "clique_id": "c2",
        "versions": [_version("v4", "Help", ["B"], ["0a1b2c3d4e5", "zzzzzzzzzzz"])],
    },
]


def _write_jsonl(path: Path, cliques: list[dict], extra: str = "") -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in cliques) + extra, encoding="utf-8")
    return path


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def test_jsonl_first_downloaded_video_per_version(tmp_path, caplog):
    listing = _write_jsonl(tmp_path / "Discogs-VI-YT-20240701.jsonl", CLIQUES)
    audio = tmp_path / "music"
    _touch(audio / "al" / "alt00000001.mp4")  # sharded; the best match was not downloaded
    _touch(audio / "zzzzzzzzzzz.m4a")  # flat

    with caplog.at_level(logging.INFO):
        table = list_performances({"path": str(listing), "audio_root": str(audio)})

    assert table.to_dict("list") == {
        "perf_id": ["alt00000001", "0a1b2c3d4e5", "zzzzzzzzzzz"],
        "work_id": ["0001-c1", "0001-c1", "c2"],
        "path": [
            str(audio / "al" / "alt00000001.mp4"),
            str(audio / "0a1b2c3d4e5.m4a"),  # missing: flat, first extension
            str(audio / "zzzzzzzzzzz.m4a"),
        ],
        "version_id": ["v1", "v2", "v4"],
        "track_title": ["I Believe", "I Believe", "Help"],
        "artist": ["Les Humphries Singers", "Frankie Laine, Others", "B"],
    }
    assert "skipped 1 version(s) without a YouTube video" in caplog.text


def test_jsonl_all_videos_keeps_a_repeated_video_once(tmp_path, caplog):
    listing = _write_jsonl(tmp_path / "cliques.jsonl", CLIQUES)

    with caplog.at_level(logging.WARNING):
        table = list_performances({"path": str(listing), "videos": "all", "layout": "sharded"})

    assert table["perf_id"].tolist() == ["kv-jdTn_F3Q", "alt00000001", "0a1b2c3d4e5", "zzzzzzzzzzz"]
    assert table["version_id"].tolist() == ["v1", "v1", "v2", "v4"]
    assert table["path"][0] == str(tmp_path / "kv" / "kv-jdTn_F3Q.m4a")
    assert "1 video(s) listed again" in caplog.text


def test_light_json_takes_split_from_its_suffix(tmp_path):
    light = {"c1": [{"version_id": "v1", "track_title": "T", "youtube_id": "00000000001"}]}
    listing = tmp_path / "Discogs-VI-YT-20240701-light.json.val"
    listing.write_text(json.dumps(light, indent=2), encoding="utf-8")

    table = list_performances({"path": str(listing), "layout": "flat"})

    assert table.to_dict("list") == {
        "perf_id": ["00000000001"],
        "work_id": ["c1"],
        "path": [str(tmp_path / "00000000001.m4a")],
        "split": ["val"],
        "version_id": ["v1"],
        "track_title": ["T"],
        "artist": [""],
    }


def test_malformed_jsonl_line_is_named(tmp_path):
    listing = _write_jsonl(
        tmp_path / "c.jsonl", CLIQUES, extra='{"clique_id": "c3", "versions": [\n'
    )
    with pytest.raises(ValueError, match=r"discogs_vi: .*c\.jsonl line 3: not valid JSON"):
        list_performances({"path": str(listing)})


def test_video_without_youtube_id_is_named(tmp_path):
    clique = {"clique_id": "c", "versions": [{"version_id": "v", "youtube_video": [{"url": "x"}]}]}
    listing = _write_jsonl(tmp_path / "c.jsonl", [clique])
    with pytest.raises(ValueError, match=r"line 1: cannot read a YouTube id"):
        list_performances({"path": str(listing)})


def test_bad_split_option_is_named(tmp_path):
    listing = _write_jsonl(tmp_path / "c.jsonl", CLIQUES)
    with pytest.raises(ValueError, match=r"option split='dev' is not one of"):
        list_performances({"path": str(listing), "split": "dev"})
