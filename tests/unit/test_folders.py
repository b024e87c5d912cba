"""nrpfiles.folders: patterns, a folder's keys, and plans by size and checksum."""

from __future__ import annotations

import hashlib

import pytest

from nrpfiles.folders import (
    folder_files,
    matches,
    plan_download,
    plan_sync,
    same_content,
    select,
)
from nrpfiles.models import File


def entry(key: str, data: bytes, status: str = "completed") -> File:
    checksum = "md5:" + hashlib.md5(data).hexdigest()
    return File(key=key, size=len(data), checksum=checksum, status=status)


@pytest.mark.parametrize(
    ("key", "patterns", "expected"),
    [
        ("a.csv", [], True),
        ("a.csv", ["*.csv"], True),
        ("data/a.csv", ["*.csv"], True),
        ("data/a.csv", ["data"], True),
        ("data/a.csv", ["data/"], True),
        ("database.txt", ["data"], False),
        ("a.CSV", ["*.csv"], False),
        ("b.txt", ["*.csv", "b.*"], True),
        ("notes.txt", ["*.csv"], False),
        ("r1.bin", ["r[0-9].bin"], True),
    ],
)
def test_matches(key, patterns, expected):
    assert matches(key, patterns) is expected


def test_select_keeps_the_order():
    files = [entry("b.csv", b""), entry("a.txt", b""), entry("c.csv", b"")]
    assert [f.key for f in select(files, ["*.csv"])] == ["b.csv", "c.csv"]


def test_folder_files(tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "b.txt").write_bytes(b"b")
    (tmp_path / "sub" / "a.txt").write_bytes(b"a")
    (tmp_path / "sub" / "deeper" / "c.bin").write_bytes(b"c")
    (tmp_path / ".x.bin.abc.nrpfiles-partial").write_bytes(b"half")
    (tmp_path / "y.bin.nrpfiles-partial").write_bytes(b"half, to resume")
    (tmp_path / "y.bin.nrpfiles-partial.json").write_bytes(b"{}")
    assert list(folder_files(tmp_path)) == ["b.txt", "sub/a.txt", "sub/deeper/c.bin"]
    assert list(folder_files(tmp_path / "sub", prefix="p/")) == ["p/a.txt", "p/deeper/c.bin"]
    with pytest.raises(NotADirectoryError):
        folder_files(tmp_path / "b.txt")


def test_same_content(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"hello")
    assert same_content(path, entry("x", b"hello"))
    assert not same_content(path, entry("x", b"hellO"))
    assert not same_content(path, entry("x", b"hello!"))
    assert not same_content(tmp_path / "missing", entry("x", b"hello"))
    assert not same_content(path, File(key="x", size=5, checksum=None))


def test_same_content_of_an_s3_multipart_checksum(tmp_path):
    data = bytes(range(256)) * 10
    path = tmp_path / "x"
    path.write_bytes(data)
    parts = [data[:1024], data[1024:2048], data[2048:]]
    composite = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    s3 = File(key="x", size=len(data), checksum=f"multipart:{composite}-3-1024")
    assert same_content(path, s3)


def test_plan_download(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "same.txt").write_bytes(b"same")
    (tmp_path / "old.txt").write_bytes(b"old")
    files = [entry("d/same.txt", b"same"), entry("old.txt", b"new"), entry("new/n.txt", b"n")]
    plan = plan_download(files, tmp_path)
    assert [f.key for f, _ in plan.present] == ["d/same.txt"]
    assert [(f.key, p.relative_to(tmp_path).as_posix()) for f, p in plan.fetch] == [
        ("old.txt", "old.txt"),
        ("new/n.txt", "new/n.txt"),
    ]
    with pytest.raises(ValueError, match="outside"):
        plan_download([entry("../evil", b"")], tmp_path)


def test_plan_sync(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "same.txt").write_bytes(b"same")
    (tmp_path / "changed.txt").write_bytes(b"local")
    (tmp_path / "sub" / "new.txt").write_bytes(b"new")
    (tmp_path / "pending.txt").write_bytes(b"p")
    files = [
        entry("same.txt", b"same"),
        entry("changed.txt", b"remote"),
        entry("pending.txt", b"p", status="pending"),
        entry("gone.txt", b"gone"),
    ]
    plan = plan_sync(tmp_path, files)
    assert [k for k, _ in plan.upload] == ["sub/new.txt"]
    assert [k for k, _ in plan.replace] == ["changed.txt", "pending.txt"]
    assert plan.unchanged == ["same.txt"] and plan.extra == ["gone.txt"]
    assert not plan.is_empty()
    settled = plan_sync(tmp_path, [entry(k, p.read_bytes()) for k, p in folder_files(tmp_path).items()])
    assert settled.is_empty() and settled.is_empty(delete=True)
    assert not plan_sync(tmp_path / "sub", files).is_empty()
