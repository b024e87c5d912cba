# Generated from tests/_async/test_files_edges.py by scripts/gen_sync.py: do not edit.
# body-sha256: 6c8f1b4d7dece15d340b768f895cb5dd82e7c255ae034a74c6c51371139c539b
"""Edge cases of real files against the local repository: empty files, odd keys."""

from __future__ import annotations

import hashlib

import pytest

from nrpfiles.streams import FileSource, MemorySink, MemorySource


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


@pytest.mark.parametrize(
    "make_source", [lambda p: b"", lambda p: MemorySource(b""), lambda p: FileSource(p)]
)
def test_an_empty_file_round_trips(client, draft, tmp_path, make_source):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    file = client.files.upload(draft, "empty.txt", {}, make_source(empty))
    assert (file.size, file.checksum, file.status) == (0, md5(b""), "completed")
    sink = MemorySink()
    client.files.download(draft, "empty.txt", sink)
    assert sink.data == b""
    client.files.download(file, tmp_path / "copy" / "empty.txt")
    assert (tmp_path / "copy" / "empty.txt").read_bytes() == b""


@pytest.mark.parametrize(
    "key", ["dir/sub dir/data v2.csv", "příliš žluťoučký.txt", "a+b&c=d#e?.bin"]
)
def test_keys_with_slashes_spaces_and_unicode_round_trip(client, draft, tmp_path, key):
    data = key.encode() * 100
    file = client.files.upload(draft, key, {"k": key}, data)
    assert file.key == key
    assert (client.files.read(draft, key)).metadata == {"k": key}
    assert key in client.files.list(draft)
    client.files.download(draft, key, str(tmp_path) + "/")
    assert (tmp_path / key).read_bytes() == data
    client.files.delete(draft, key=key)
    assert key not in client.files.list(draft)
