# Generated from tests/_async/test_file_objects.py by scripts/gen_sync.py: do not edit.
# body-sha256: f617cd700867a95c0d4a770fed6c9d63869c47f4d0e2cd2aeedebf6cd95888b0
"""File objects in, streams out: uploads from what web frameworks hand over, and files.open()."""

from __future__ import annotations

import hashlib
import io
import os
import random
import threading

import pytest

from nrpfiles import Client
from nrpfiles.streams import MemorySink
from tests._sync.conftest import FAST_RETRIES

MIB = 1 << 20
PART = 5 * MIB


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def verified(data: bytes, file) -> bool:
    md5 = "md5:" + hashlib.md5(data).hexdigest()
    return file.size == len(data) and (file.checksum == md5 or file.checksum.startswith("multipart:"))


def downloaded(client, file) -> bytes:
    return (client.files.download(file, MemorySink())).data


@pytest.fixture
def django_settings():
    from django.conf import settings

    if not settings.configured:
        settings.configure()
    return settings


# -- uploads from file objects ------------------------------------------------------


def test_parallel_parts_from_a_bytesio_not_at_its_start(client, draft):
    data = random_bytes(12 * MIB + 5, seed=1)
    buffer = io.BytesIO(b"preamble" + data)
    buffer.seek(8)
    file = client.files.upload(draft, "parts.bin", {}, buffer, "multipart", {"part_size": PART})
    assert verified(data, file)
    assert downloaded(client, file) == data
    assert not buffer.closed


def test_an_open_file_is_uploaded_and_left_open(client, draft, tmp_path):
    data = random_bytes(300_000, seed=2)
    path = tmp_path / "data.bin"
    path.write_bytes(b"skip" + data)
    with open(path, "rb") as handle:
        handle.read(4)
        file = client.files.upload(draft, "data.bin", {}, handle)
        assert not handle.closed
    assert verified(data, file) and downloaded(client, file) == data


@pytest.mark.parametrize("size_given", [False, True], ids=["spooled-first", "size-given"])
def test_a_pipe_is_uploaded_in_parts(client, draft, size_given):
    data = random_bytes(11 * MIB, seed=3)
    read_end, write_end = os.pipe()

    def feed() -> None:
        with os.fdopen(write_end, "wb") as out:
            out.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        with os.fdopen(read_end, "rb") as pipe:
            file = client.files.upload(
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
    assert verified(data, file) and downloaded(client, file) == data


def test_a_stream_shorter_than_its_size_fails_and_leaves_nothing(client, draft):
    from nrpfiles.streams import SourceChangedError

    read_end, write_end = os.pipe()
    os.write(write_end, b"only this")
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe, pytest.raises(SourceChangedError, match="ended after 9"):
        client.files.upload(draft, "short.bin", {}, pipe, size=1000)
    assert [f.key for f in client.files.list(draft)] == []


def test_django_uploaded_files_in_memory_and_on_disk(client, draft, django_settings):
    from django.core.files.uploadedfile import InMemoryUploadedFile, TemporaryUploadedFile

    small = random_bytes(200_000, seed=4)
    in_memory = InMemoryUploadedFile(
        io.BytesIO(small), "file", "small.bin", "application/octet-stream", len(small), None
    )
    file = client.files.upload(draft, "small.bin", {}, in_memory)
    assert verified(small, file) and downloaded(client, file) == small

    large = random_bytes(6 * MIB, seed=5)
    with TemporaryUploadedFile("large.bin", "application/octet-stream", len(large), None) as on_disk:
        on_disk.write(large)
        on_disk.seek(0)
        file = client.files.upload(draft, "large.bin", {}, on_disk)
        assert not on_disk.closed
    assert verified(large, file) and downloaded(client, file) == large


def test_werkzeug_file_storage_and_its_stream(client, draft):
    from werkzeug.datastructures import FileStorage

    data = random_bytes(500_000, seed=6)
    storage = FileStorage(io.BytesIO(data), filename="form.bin", content_type="text/plain")
    file = client.files.upload(draft, "storage.bin", {}, storage)
    assert verified(data, file)
    storage.stream.seek(0)
    file = client.files.upload(draft, "stream.bin", {}, storage.stream)
    assert verified(data, file) and downloaded(client, file) == data
    assert not storage.stream.closed


# -- streaming reads -----------------------------------------------------------------


def test_open_reads_in_pieces_and_verifies(client, draft):
    data = random_bytes(3 * MIB + 11, seed=7)
    client.files.upload(draft, "read.bin", {}, data)
    with client.files.open(draft, "read.bin") as stream:
        assert stream.size == len(data) and stream.file.key == "read.bin"
        head = stream.read(10)
        buffer = bytearray(1000)
        filled = stream.readinto(buffer)
        rest = stream.read()
        assert stream.read(5) == b""
    assert head + bytes(buffer[:filled]) + rest == data
    assert stream.closed
    with pytest.raises(ValueError, match="closed"):
        stream.read(1)


def test_open_a_file_or_its_url_and_iterate(client, draft):
    data = random_bytes(2 * MIB + 3, seed=8)
    file = client.files.upload(draft, "iter.bin", {}, data)
    with client.files.open(file) as stream:
        chunks = [chunk for chunk in stream.iter_bytes(chunk_size=100_000)]
    assert b"".join(chunks) == data
    assert {len(chunk) for chunk in chunks[:-1]} == {100_000}
    with client.files.open(file.links.self_) as stream:
        assert b"".join([chunk for chunk in stream.iter_bytes()]) == data


def test_open_verifies_a_multipart_upload(client, draft, repository):
    data = random_bytes(11 * MIB, seed=9)
    client.files.upload(draft, "mp.bin", {}, data, "multipart", {"part_size": PART})
    with client.files.open(draft, "mp.bin") as stream:
        if repository.storage == "s3":
            assert stream.file.checksum.startswith("multipart:")  # checked part by part
        assert stream.read() == data


@pytest.mark.parametrize("ranges", [True, False], ids=["ranged", "whole-again"])
def test_open_resumes_a_body_that_breaks(local_repository_factory, ranges):
    repo = local_repository_factory(ranges=ranges)
    data = random_bytes(4 * MIB, seed=10)
    with Client(repo.url, token=repo.token, retry=FAST_RETRIES) as client:
        draft = client.records.create({"metadata": {"title": "Cut"}})
        file = client.files.upload(draft, "cut.bin", {}, data)
        # Without ranges the file comes whole again each time: some answers must get through.
        repo.faults.configure(seed=7, cut_after_bytes=MIB, cut_rate=1.0 if ranges else 0.5)
        try:
            with client.files.open(file) as stream:
                received = stream.read()
        finally:
            injected = repo.faults.injected
            repo.faults.clear()
    assert received == data and sum(injected.values()) > 0


def test_open_follows_a_redirect_to_storage_without_the_token(local_repository_factory):
    repo = local_repository_factory(storage_redirect=True)
    data = random_bytes(MIB, seed=11)
    with Client(repo.url, token=repo.token, retry=FAST_RETRIES) as client:
        draft = client.records.create({"metadata": {"title": "Redirected"}})
        client.files.upload(draft, "r.bin", {}, data)
        with client.files.open(draft, "r.bin") as stream:
            assert stream.read() == data
    assert repo.token_violations == 0
