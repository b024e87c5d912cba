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
async def test_an_empty_file_round_trips(client, draft, tmp_path, make_source):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    file = await client.files.upload(draft, "empty.txt", {}, make_source(empty))
    assert (file.size, file.checksum, file.status) == (0, md5(b""), "completed")
    sink = MemorySink()
    await client.files.download(draft, "empty.txt", sink)
    assert sink.data == b""
    await client.files.download(file, tmp_path / "copy" / "empty.txt")
    assert (tmp_path / "copy" / "empty.txt").read_bytes() == b""


@pytest.mark.parametrize(
    "key", ["dir/sub dir/data v2.csv", "příliš žluťoučký.txt", "a+b&c=d#e?.bin"]
)
async def test_keys_with_slashes_spaces_and_unicode_round_trip(client, draft, tmp_path, key):
    data = key.encode() * 100
    file = await client.files.upload(draft, key, {"k": key}, data)
    assert file.key == key
    assert (await client.files.read(draft, key)).metadata == {"k": key}
    assert key in await client.files.list(draft)
    await client.files.download(draft, key, str(tmp_path) + "/")
    assert (tmp_path / key).read_bytes() == data
    await client.files.delete(draft, key=key)
    assert key not in await client.files.list(draft)
