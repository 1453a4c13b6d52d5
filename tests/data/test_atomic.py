"""Atomic writes: the new file or folder whole, or the old one untouched, and nothing left over."""

import os

import pytest

from coverhunter.data.atomic import replaced_atomically, write_bytes_atomically


def test_a_file_is_written_and_replaced_whole(tmp_path):
    path = tmp_path / "deep" / "table.json"
    write_bytes_atomically(path, b"old")
    write_bytes_atomically(path, b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in path.parent.iterdir()] == ["table.json"]


def test_a_write_that_fails_leaves_the_old_file_and_no_partial(tmp_path):
    path = tmp_path / "table.json"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"), replaced_atomically(path) as partial:
        partial.write_bytes(b"half of the ne")
        raise RuntimeError("disk full")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["table.json"]


def test_a_folder_replaces_the_old_folder_whole(tmp_path):
    path = tmp_path / "model"
    for version in ("old", "new"):
        with replaced_atomically(path) as partial:
            partial.mkdir()
            (partial / f"{version}.txt").write_text(version)
    assert [p.name for p in path.iterdir()] == ["new.txt"]
    with pytest.raises(ValueError), replaced_atomically(path) as partial:
        partial.mkdir()
        (partial / "broken.txt").write_text("")
        raise ValueError
    assert [p.name for p in path.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_a_partial_left_by_a_killed_process_is_not_mistaken_for_the_new_one(tmp_path):
    # what a process with this pid, killed mid-write, left behind (`.<name>.<pid>.partial`)
    stale = tmp_path / f".model.{os.getpid()}.partial"
    stale.mkdir()
    (stale / "stale.txt").write_text("from a killed run")
    with replaced_atomically(tmp_path / "model") as partial:
        partial.mkdir()
        (partial / "fresh.txt").write_text("")
    assert [p.name for p in (tmp_path / "model").iterdir()] == ["fresh.txt"]
    assert not stale.exists()
