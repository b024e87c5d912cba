"""One draft's files changed side by side, as parallel jobs and services change them.

InvenioRDM saves the draft under a version check whenever one of its entries is
deleted, and refuses a delete that overlaps another: these cases hold on every
server only because the client takes one draft's deletes one at a time.
"""

from __future__ import annotations

import hashlib
import io
from functools import partial

from tests.parallel import async_run_all

# keys keep their "/" in URLs, and a folder may be called "files"
KEYS = ["a.txt", "dir/b.txt", "files/c.txt", "files/files/d.txt", "x/y/e.txt", "f.txt"]


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


class FailingMidway(io.RawIOBase):
    """A source whose disk fails after its first bytes: the upload stops after its entry is made."""

    def __init__(self, size: int) -> None:
        self.size, self.sent = size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if self.sent:
            raise OSError("the disk went away")
        count = min(len(buffer), 100)
        buffer[:count] = b"x" * count
        self.sent += count
        return count


async def failure_of(upload) -> BaseException | None:
    try:
        await upload()
    except OSError as error:
        return error
    return None


async def listed(client, draft) -> dict[str, tuple[str, str | None]]:
    return {file.key: (file.status, file.checksum) for file in await client.files.list(draft)}


async def test_files_deleted_side_by_side_are_all_gone(client, draft):
    await client.files.upload_many(draft, {key: key.encode() for key in KEYS})
    half = KEYS[:3]
    await async_run_all([partial(client.files.delete, draft, key=key) for key in half])
    by_entry = [file for file in await client.files.list(draft) if file.key not in half]
    await async_run_all([partial(client.files.delete, file) for file in by_entry])
    assert await listed(client, draft) == {}


async def test_files_replaced_side_by_side_all_hold_their_new_content(client, draft):
    await client.files.upload_many(draft, {key: b"old " + key.encode() for key in KEYS[:4]})
    new = {key: b"new " + key.encode() * 10 for key in KEYS[:4]}
    uploads = [
        partial(client.files.upload, draft, key, {}, content, overwrite=True)
        for key, content in new.items()
    ]
    replaced = await async_run_all(uploads)
    assert [file.checksum for file in replaced] == [md5(content) for content in new.values()]
    assert await listed(client, draft) == {
        key: ("completed", md5(content)) for key, content in new.items()
    }


async def test_uploads_failing_side_by_side_each_remove_their_unfinished_entry(client, draft):
    await client.files.upload(draft, "kept.txt", {}, b"kept")
    uploads = [
        partial(client.files.upload, draft, key, {}, FailingMidway(10_000), size=10_000)
        for key in KEYS[:4]
    ]
    failures = await async_run_all([partial(failure_of, upload) for upload in uploads])
    assert [str(failure) for failure in failures] == ["the disk went away"] * 4
    assert await listed(client, draft) == {"kept.txt": ("completed", md5(b"kept"))}
