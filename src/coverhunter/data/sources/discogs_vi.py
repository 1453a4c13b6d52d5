"""Read Discogs-VI-YT (github MTG/discogs-vi-dataset) with the YouTube audio of its versions.

Two listings are read, told apart by their content:
- the clique JSONL (``Discogs-VI-YT-20240701.jsonl``, or ``Discogs-VI-20240701.jsonl.
  youtube_query_matched``): one clique a line, ``{"clique_id": .., "versions": [{"version_id":
  .., "tracks": [{"track_title": .., "track_artist_names": [..], "release_artist_names": [..],
  ..}, ..], "youtube_video": [{"url": "https://www.youtube.com/watch?v=<id>", "match_type":
  .., ..}, ..]}, ..]}``, the videos sorted best match first;
- the light JSON (``Discogs-VI-YT-20240701-light.json`` and its ``.train``, ``.val``,
  ``.test`` partitions): ``{clique_id: [{"version_id": .., "track_title": .., "youtube_id":
  ..}, ..]}``.
The clique is the work. The performance is a YouTube video, ``perf_id`` its id, named
``<audio_root>/<id>.<ext>`` or, as the dataset's own download script shards them,
``<audio_root>/<id[:2]>/<id>.<ext>``.

Options:
    path (required): the JSONL or light JSON file.
    audio_root: folder holding the audio (default: the listing's folder).
    layout: ``flat``, ``sharded`` or ``auto`` (default: per video, whichever exists, flat
        first; flat when neither does).
    extensions: audio extensions to look for, first existing wins (default: m4a and mp4, which
        the dataset's download script writes, then wav, flac, mp3, ogg, opus, webm).
    videos (JSONL only): ``first`` (default) gives one performance per version, its first video
        whose audio exists, else its best match, as the dataset's post-processing picks it;
        ``all`` gives one performance per video.
    split: ``train``, ``val`` or ``test`` for every row (default: from the file name's
        ``.train``/``.val``/``.test`` suffix; no split column otherwise).

Versions without a video are skipped (logged). A video listed again, under another version
or clique, is kept once, at its first place (logged). A line that is not JSON, or a clique,
version or video without its ids, is an error naming the file and line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pandas as pd

from coverhunter.data.sources._common import (
    AUDIO_EXTENSIONS,
    SPLITS,
    SourceError,
    audio_files_option,
    choice_option,
    listing_option,
)

logger = logging.getLogger(__name__)

SOURCE = "discogs_vi"
LAYOUTS = ("auto", "flat", "sharded")
VIDEO_CHOICES = ("first", "all")
EXTENSIONS = ("m4a", "mp4", *(ext for ext in AUDIO_EXTENSIONS if ext != "m4a"))
# Characters of the id that name its shard folder, as the dataset's download script does.
SHARD_PREFIX = 2


def list_performances(options: Mapping[str, Any]) -> pd.DataFrame:
    """perf_id (YouTube id), work_id (clique id), path, split (when known), version_id,
    track_title, artist: one row per performance."""
    listing = listing_option(options, SOURCE, "clique file")
    audio = audio_files_option(options, SOURCE, listing.parent, EXTENSIONS)
    layout = choice_option(options, "layout", SOURCE, LAYOUTS, "auto")
    choice = choice_option(options, "videos", SOURCE, VIDEO_CHOICES, "first")
    split = _split(options, listing)

    def locate(video_id: str) -> Path:
        flat, sharded = Path(video_id), Path(video_id[:SHARD_PREFIX], video_id)
        stems = {"auto": [flat, sharded], "flat": [flat], "sharded": [sharded]}[layout]
        return audio.find(*stems)

    rows, seen, repeats, videoless = [], set(), 0, 0
    for work_id, version in _versions(listing):
        if not version["videos"]:
            videoless += 1
            continue
        paths = {video_id: locate(video_id) for video_id in version["videos"]}
        if choice == "first":
            best = next((v for v, p in paths.items() if p.is_file()), version["videos"][0])
            paths = {best: paths[best]}
        for video_id, path in paths.items():
            if video_id in seen:
                repeats += 1
                continue
            seen.add(video_id)
            rows.append(
                {
                    "perf_id": video_id,
                    "work_id": work_id,
                    "path": str(path),
                    **({"split": split} if split else {}),
                    "version_id": version["version_id"],
                    "track_title": version["track_title"],
                    "artist": version["artist"],
                }
            )
    if videoless:
        logger.info("%s: skipped %d version(s) without a YouTube video", SOURCE, videoless)
    if repeats:
        logger.warning(
            "%s: %d video(s) listed again were kept once, at first place", SOURCE, repeats
        )
    if not rows:
        raise SourceError(f"{SOURCE}: {listing} lists no version with a YouTube video")
    return pd.DataFrame(rows)


def _split(options: Mapping[str, Any], listing: Path) -> str | None:
    """Option ``split``, else the listing's ``.train``/``.val``/``.test`` suffix, else None."""
    suffix = listing.suffix.lstrip(".")
    from_name = suffix if suffix in SPLITS else None
    return choice_option(options, "split", SOURCE, sorted(SPLITS), from_name)


def _versions(listing: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(clique id, {version_id, videos, track_title, artist}) of every version, in file order."""
    with listing.open(encoding="utf-8") as handle:
        first = handle.readline()
        while first and not first.strip():
            first = handle.readline()
        try:
            head = json.loads(first)
        except json.JSONDecodeError:
            head = None  # An indented light JSON: its first line is not a document.
        if isinstance(head, dict) and "versions" in head:
            handle.seek(0)
            yield from _jsonl_versions(handle, listing)
            return
        if head is None:
            handle.seek(0)
            head = _load_json(handle, listing)
        yield from _light_versions(head, listing)


def _jsonl_versions(lines: Iterator[str], listing: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{SOURCE}: {listing} line {number}"
        try:
            clique = json.loads(line)
        except json.JSONDecodeError as err:
            raise SourceError(f"{where}: not valid JSON ({err})") from err
        if not isinstance(clique, dict) or not clique.get("clique_id"):
            raise SourceError(f"{where}: a clique needs a clique_id and versions")
        for version in clique.get("versions") or []:
            if not isinstance(version, dict) or not version.get("version_id"):
                raise SourceError(
                    f"{where}: a version of {clique['clique_id']} lacks its version_id"
                )
            track = (version.get("tracks") or [{}])[0]
            artists = track.get("track_artist_names") or track.get("release_artist_names") or []
            videos = [_video_id(video, where) for video in version.get("youtube_video") or []]
            yield (
                str(clique["clique_id"]),
                {
                    "version_id": str(version["version_id"]),
                    "videos": list(dict.fromkeys(videos)),
                    "track_title": str(track.get("track_title") or ""),
                    "artist": ", ".join(str(name) for name in artists),
                },
            )


def _light_versions(cliques: Any, listing: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(cliques, dict):
        raise SourceError(f"{SOURCE}: {listing} is neither clique JSONL nor a light JSON object")
    for clique_id, versions in cliques.items():
        if not isinstance(versions, list):
            raise SourceError(f"{SOURCE}: {listing} clique {clique_id!r} must list its versions")
        for version in versions:
            if not isinstance(version, dict) or not version.get("youtube_id"):
                raise SourceError(
                    f"{SOURCE}: {listing} clique {clique_id!r}: a version lacks youtube_id"
                )
            yield (
                str(clique_id),
                {
                    "version_id": str(version.get("version_id") or ""),
                    "videos": [str(version["youtube_id"])],
                    "track_title": str(version.get("track_title") or ""),
                    "artist": "",
                },
            )


def _load_json(handle: Any, listing: Path) -> Any:
    try:
        return json.load(handle)
    except json.JSONDecodeError as err:
        raise SourceError(f"{SOURCE}: {listing} is not valid JSON or JSONL: {err}") from err


def _video_id(video: Any, where: str) -> str:
    """The YouTube id of a ``youtube_video`` entry, from its watch or youtu.be url."""
    url = video.get("url", "") if isinstance(video, dict) else ""
    parsed = urlparse(str(url))
    if parsed.hostname and parsed.hostname.endswith("youtu.be"):
        ids: Sequence[str] = [parsed.path.strip("/")]
    else:
        ids = parse_qs(parsed.query).get("v", [])
    if not ids or not ids[0]:
        raise SourceError(f"{where}: cannot read a YouTube id from video {video!r}")
    return ids[0]
