"""Every transfer type the repository lets users use, against each server, every byte verified.

On S3 storage with a lazy worker a multipart upload's checksum stays
``multipart:<etag>-<parts>-<part_size>``; on a file store the checksum of a
multipart upload is computed after the commit. Either way the client verifies
what it sent and what it received (the ``every_transfer_verified`` guard fails
a case that leaves a transfer unverified).
"""

from __future__ import annotations

import hashlib
import random

import pytest

from nrpfiles import AsyncClient
from nrpfiles._transfer_plan import upload_parts
from nrpfiles.errors import LimitExceededError, RepositoryClientError
from nrpfiles.streams import MemorySink
from tests.checksums import composite_of as composite

MIB = 1 << 20
PART = 5 * MIB


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def checksums_of(data: bytes, part_size: int) -> set[str]:
    """What a repository may report for ``data`` uploaded in parts of ``part_size``."""
    return {"md5:" + hashlib.md5(data).hexdigest(), composite(data, part_size)}


async def test_a_multipart_upload_is_verified_and_comes_back_whole(client, draft, repository):
    data = random_bytes(11 * MIB + 17, seed=1)
    file = await client.files.upload(draft, "parts.bin", {}, data, "multipart", {"part_size": PART})
    assert file.status == "completed" and file.size == len(data)
    assert file.checksum in checksums_of(data, PART)
    if repository.storage == "s3":
        assert (await client.files.read(draft, "parts.bin")).checksum == composite(data, PART)
    for parts in (1, 3):
        sink = await client.files.download(draft, "parts.bin", MemorySink(), parts=parts)
        assert sink.data == data


async def test_parts_are_hashed_as_s3_does_only_when_they_go_to_storage(
    client, draft, repository, monkeypatch
):
    import nrpfiles._async.upload_steps as steps

    hashed_in_parts = []
    original = steps.parted_md5_of_source

    def parted(*arguments):
        hashed_in_parts.append(arguments)
        return original(*arguments)

    monkeypatch.setattr(steps, "parted_md5_of_source", parted)
    data = random_bytes(11 * MIB, seed=5)
    file = await client.files.upload(
        draft, "hashed.bin", {}, data, "multipart", {"part_size": PART}
    )
    assert file.checksum in checksums_of(data, PART)
    assert bool(hashed_in_parts) == file.checksum.startswith("multipart:")


async def test_auto_sends_a_large_file_in_parts(client, draft, repository, tmp_path):
    data = random_bytes(70 * MIB, seed=2)
    source = tmp_path / "large.bin"
    source.write_bytes(data)
    file = await client.files.upload(draft, "large.bin", {}, source)
    # A file on disk is sent in parts small enough to resume after a kill.
    _, part_size = upload_parts(len(data), None, resumable=True)
    assert part_size < len(data) // 2
    assert file.checksum in checksums_of(data, part_size)
    if repository.storage == "s3":
        assert file.checksum.startswith("multipart:")  # it went in parts
    target = await client.files.download(file, tmp_path / "back" / "large.bin")
    assert target.path.read_bytes() == data


async def test_files_of_a_published_record_download_verified(client, draft, tmp_path):
    small, parted = random_bytes(300_000, seed=3), random_bytes(10 * MIB + 1, seed=4)
    await client.files.upload(draft, "small.bin", {}, small)
    await client.files.upload(draft, "parted.bin", {}, parted, "multipart", {"part_size": PART})
    published = await client.records.publish(draft)
    files = {file.key: file for file in await client.files.list(published)}
    assert files["parted.bin"].checksum in checksums_of(parted, PART)
    assert (await client.files.download(files["small.bin"], MemorySink())).data == small
    assert (await client.files.download(published, "parted.bin", MemorySink())).data == parted


async def test_a_multipart_file_is_replaced_with_overwrite(client, draft):
    first, second = random_bytes(6 * MIB, seed=5), random_bytes(6 * MIB, seed=6)
    await client.files.upload(draft, "again.bin", {}, first, "multipart", {"part_size": PART})
    file = await client.files.upload(
        draft, "again.bin", {}, second, "multipart", {"part_size": PART}, overwrite=True
    )
    assert file.checksum in checksums_of(second, PART)
    assert (await client.files.download(file, MemorySink())).data == second
    assert [f.key for f in await client.files.list(draft)] == ["again.bin"]


@pytest.mark.parametrize("size", [0, 1, PART, PART + 1])
async def test_sizes_at_the_edges_of_a_part(client, draft, size):
    data = random_bytes(size, seed=size)
    transfer = "multipart" if size else "local-file"
    file = await client.files.upload(draft, "edge.bin", {}, data, transfer, {"part_size": PART})
    assert file.size == size
    assert (await client.files.download(file, MemorySink())).data == data


@pytest.mark.parametrize(
    ("options", "limit"),
    [
        ({"max_files": 2}, "files per record"),
        ({"max_file_size": 1500}, "file size"),
        ({"bucket_quota": 2500}, "record quota"),
    ],
)
async def test_limits_are_clear_errors_and_leave_nothing_behind(
    local_repository_factory, options, limit
):
    repository = local_repository_factory(**options)
    async with AsyncClient(repository.url, token=repository.token) as client:
        draft = await client.records.create({"title": "Limits"})
        await client.files.upload(draft, "one.bin", {}, b"1" * 1000)
        await client.files.upload(draft, "two.bin", {}, b"2" * 1000)
        big = b"3" * (2000 if limit == "file size" else 1000)
        with pytest.raises(LimitExceededError) as caught:
            await client.files.upload(draft, "three.bin", {}, big)
        assert caught.value.limit == limit and "'three.bin'" in str(caught.value)
        assert [f.key for f in await client.files.list(draft)] == ["one.bin", "two.bin"]


async def test_one_request_above_100_mib_is_refused_and_auto_sends_the_file_in_parts(
    client, draft, tmp_path
):
    # InvenioRDM's MAX_CONTENT_LENGTH holds for file content too (413), on a file
    # store and on S3 alike: the content goes through the application either way.
    path = tmp_path / "over.bin"
    with open(path, "wb") as sparse:
        sparse.seek(100 * MIB)
        sparse.write(b"!")
    with pytest.raises(RepositoryClientError, match="transfer_type='multipart'") as caught:
        await client.files.upload(draft, "over.bin", {}, path, "local-file")
    assert caught.value.status == 413
    assert caught.value.server_message == "The data value transmitted exceeds the capacity limit."
    assert "over.bin" not in await client.files.list(draft)

    # auto sends it in parts (in one request it would meet the 413 again)
    file = await client.files.upload(draft, "over.bin", {}, path)
    assert file.status == "completed" and file.size == 100 * MIB + 1
