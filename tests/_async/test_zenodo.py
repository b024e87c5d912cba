"""The client against the local repository's zenodo profile: multipart lands as local, limits read clearly."""

from __future__ import annotations

import hashlib
import logging
import random

import pytest
import pytest_asyncio

from nrpfiles import AsyncClient
from nrpfiles.errors import LimitExceededError
from nrpfiles.streams import MemorySink

MIB = 1 << 20


@pytest.fixture
def zenodo(local_repository_factory):
    # A generous window: these cases are about multipart and limits, not pacing.
    return local_repository_factory(profile="zenodo", rate_limit=(600, 1.0), max_files=3)


@pytest_asyncio.fixture
async def zenodo_client(zenodo):
    async with AsyncClient(zenodo.url, token=zenodo.token) as client:
        yield client


async def test_multipart_lands_as_a_local_upload_and_is_learnt_once(zenodo, zenodo_client, caplog):
    caplog.set_level(logging.INFO, logger="nrpfiles")
    draft = await zenodo_client.records.create({"title": "To Zenodo"})
    data = random.Random(1).randbytes(11 * MIB)
    for key in ("first.bin", "second.bin"):
        file = await zenodo_client.files.upload(
            draft, key, {}, data, "multipart", {"part_size": 5 * MIB}
        )
        assert file.status == "completed"
        assert file.checksum == "md5:" + hashlib.md5(data).hexdigest()
    assert (await zenodo_client.files.download(draft, "second.bin", MemorySink())).data == data
    assert zenodo.stats["refused_multipart"] >= 1
    refusals = [r for r in caplog.records if "refuses multipart" in r.getMessage()]
    assert len(refusals) == 1
    assert [f.key for f in await zenodo_client.files.list(draft)] == ["first.bin", "second.bin"]


async def test_the_files_limit_of_a_record_is_a_clear_error(zenodo_client):
    draft = await zenodo_client.records.create({"title": "Full"})
    for n in range(3):
        await zenodo_client.files.upload(draft, f"{n}.txt", {}, b"%d" % n)
    with pytest.raises(LimitExceededError) as caught:
        await zenodo_client.files.upload(draft, "3.txt", {}, b"3")
    assert caught.value.limit == "files per record" and "'3.txt'" in str(caught.value)
    assert len(await zenodo_client.files.list(draft)) == 3


async def test_nothing_is_refused_for_rate_and_the_headers_are_read(zenodo, zenodo_client):
    draft = await zenodo_client.records.create({"title": "Counted"})
    await zenodo_client.files.upload(draft, "a.txt", {}, b"a")
    assert zenodo.stats["rate_limited"] == 0
    assert zenodo_client._http._pacer._limit == 600  # the client read the announced limit


async def test_a_file_above_100_mib_goes_in_one_request_where_multipart_is_refused(
    zenodo_client, tmp_path
):
    path = tmp_path / "big.bin"
    with open(path, "wb") as sparse:
        sparse.seek(100 * MIB)
        sparse.write(b"!")
    draft = await zenodo_client.records.create({"title": "Big"})
    file = await zenodo_client.files.upload(draft, "big.bin", {}, path)
    assert file.status == "completed" and file.size == 100 * MIB + 1
