"""File objects in, streams out: uploads from what web frameworks hand over, and files.open()."""

from __future__ import annotations

import hashlib
import io
import os
import random
import threading

import pytest

from nrpfiles import AsyncClient
from nrpfiles.streams import MemorySink
from tests._async.conftest import FAST_RETRIES

MIB = 1 << 20
PART = 5 * MIB


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def verified(data: bytes, file) -> bool:
    md5 = "md5:" + hashlib.md5(data).hexdigest()
    return file.size == len(data) and (file.checksum == md5 or file.checksum.startswith("multipart:"))


async def downloaded(client, file) -> bytes:
    return (await client.files.download(file, MemorySink())).data


@pytest.fixture
def django_settings():
    from django.conf import settings

    if not settings.configured:
        settings.configure()
    return settings


# -- uploads from file objects ------------------------------------------------------


async def test_parallel_parts_from_a_bytesio_not_at_its_start(client, draft):
    data = random_bytes(12 * MIB + 5, seed=1)
    buffer = io.BytesIO(b"preamble" + data)
    buffer.seek(8)
    file = await client.files.upload(draft, "parts.bin", {}, buffer, "multipart", {"part_size": PART})
    assert verified(data, file)
    assert await downloaded(client, file) == data
    assert not buffer.closed


async def test_an_open_file_is_uploaded_and_left_open(client, draft, tmp_path):
    data = random_bytes(300_000, seed=2)
    path = tmp_path / "data.bin"
    path.write_bytes(b"skip" + data)
    with open(path, "rb") as handle:
        handle.read(4)
        file = await client.files.upload(draft, "data.bin", {}, handle)
        assert not handle.closed
    assert verified(data, file) and await downloaded(client, file) == data


@pytest.mark.parametrize("size_given", [False, True], ids=["spooled-first", "size-given"])
async def test_a_pipe_is_uploaded_in_parts(client, draft, size_given):
    data = random_bytes(11 * MIB, seed=3)
    read_end, write_end = os.pipe()

    def feed() -> None:
        with os.fdopen(write_end, "wb") as out:
            out.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        with os.fdopen(read_end, "rb") as pipe:
            file = await client.files.upload(
                draft,
                "piped.bin",
                {},
                pipe,
                "multipart",
                {"part_size": PART},
                size=len(data) if size_given else None,
            )
            assert not pipe.closed
    finally:
        writer.join()
    assert verified(data, file) and await downloaded(client, file) == data


async def test_a_stream_shorter_than_its_size_fails_and_leaves_nothing(client, draft):
    from nrpfiles.streams import SourceChangedError

    read_end, write_end = os.pipe()
    os.write(write_end, b"only this")
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe, pytest.raises(SourceChangedError, match="ended after 9"):
        await client.files.upload(draft, "short.bin", {}, pipe, size=1000)
    assert [f.key for f in await client.files.list(draft)] == []


async def test_django_uploaded_files_in_memory_and_on_disk(client, draft, django_settings):
    from django.core.files.uploadedfile import InMemoryUploadedFile, TemporaryUploadedFile

    small = random_bytes(200_000, seed=4)
    in_memory = InMemoryUploadedFile(
        io.BytesIO(small), "file", "small.bin", "application/octet-stream", len(small), None
    )
    file = await client.files.upload(draft, "small.bin", {}, in_memory)
    assert verified(small, file) and await downloaded(client, file) == small

    large = random_bytes(6 * MIB, seed=5)
    with TemporaryUploadedFile("large.bin", "application/octet-stream", len(large), None) as on_disk:
        on_disk.write(large)
        on_disk.seek(0)
        file = await client.files.upload(draft, "large.bin", {}, on_disk)
        assert not on_disk.closed
    assert verified(large, file) and await downloaded(client, file) == large


async def test_werkzeug_file_storage_and_its_stream(client, draft):
    from werkzeug.datastructures import FileStorage

    data = random_bytes(500_000, seed=6)
    storage = FileStorage(io.BytesIO(data), filename="form.bin", content_type="text/plain")
    file = await client.files.upload(draft, "storage.bin", {}, storage)
    assert verified(data, file)
    storage.stream.seek(0)
    file = await client.files.upload(draft, "stream.bin", {}, storage.stream)
    assert verified(data, file) and await downloaded(client, file) == data
    assert not storage.stream.closed


# -- streaming reads -----------------------------------------------------------------


async def test_open_reads_in_pieces_and_verifies(client, draft):
    data = random_bytes(3 * MIB + 11, seed=7)
    await client.files.upload(draft, "read.bin", {}, data)
    async with client.files.open(draft, "read.bin") as stream:
        assert stream.size == len(data) and stream.file.key == "read.bin"
        head = await stream.read(10)
        buffer = bytearray(1000)
        filled = await stream.readinto(buffer)
        rest = await stream.read()
        assert await stream.read(5) == b""
    assert head + bytes(buffer[:filled]) + rest == data
    assert stream.closed
    with pytest.raises(ValueError, match="closed"):
        await stream.read(1)


async def test_open_a_file_or_its_url_and_iterate(client, draft):
    data = random_bytes(2 * MIB + 3, seed=8)
    file = await client.files.upload(draft, "iter.bin", {}, data)
    async with client.files.open(file) as stream:
        chunks = [chunk async for chunk in stream.aiter_bytes(chunk_size=100_000)]
    assert b"".join(chunks) == data
    assert {len(chunk) for chunk in chunks[:-1]} == {100_000}
    async with client.files.open(file.links.self_) as stream:
        assert b"".join([chunk async for chunk in stream.aiter_bytes()]) == data


async def test_open_verifies_a_multipart_upload(client, draft, repository):
    data = random_bytes(11 * MIB, seed=9)
    await client.files.upload(draft, "mp.bin", {}, data, "multipart", {"part_size": PART})
    async with client.files.open(draft, "mp.bin") as stream:
        if repository.storage == "s3":
            assert stream.file.checksum.startswith("multipart:")  # checked part by part
        assert await stream.read() == data


@pytest.mark.parametrize("ranges", [True, False], ids=["ranged", "whole-again"])
async def test_open_resumes_a_body_that_breaks(local_repository_factory, ranges):
    repo = local_repository_factory(ranges=ranges)
    data = random_bytes(4 * MIB, seed=10)
    async with AsyncClient(repo.url, token=repo.token, retry=FAST_RETRIES) as client:
        draft = await client.records.create({"metadata": {"title": "Cut"}})
        file = await client.files.upload(draft, "cut.bin", {}, data)
        # Without ranges the file comes whole again each time: some answers must get through.
        repo.faults.configure(seed=7, cut_after_bytes=MIB, cut_rate=1.0 if ranges else 0.5)
        try:
            async with client.files.open(file) as stream:
                received = await stream.read()
        finally:
            injected = repo.faults.injected
            repo.faults.clear()
    assert received == data and sum(injected.values()) > 0


async def test_open_follows_a_redirect_to_storage_without_the_token(local_repository_factory):
    repo = local_repository_factory(storage_redirect=True)
    data = random_bytes(MIB, seed=11)
    async with AsyncClient(repo.url, token=repo.token, retry=FAST_RETRIES) as client:
        draft = await client.records.create({"metadata": {"title": "Redirected"}})
        await client.files.upload(draft, "r.bin", {}, data)
        async with client.files.open(draft, "r.bin") as stream:
            assert await stream.read() == data
    assert repo.token_violations == 0
