# Generated from tests/_async/test_zenodo.py by scripts/gen_sync.py: do not edit.
# body-sha256: a34a1b68b8532604b9bb4ca5b89d40aaac194356fc7971dd0eeadc0939165ec7
"""The client against the local repository's zenodo profile: multipart lands as local, limits read clearly."""

from __future__ import annotations

import hashlib
import logging
import random

import pytest
import pytest

from nrpfiles import Client
from nrpfiles.errors import LimitExceededError
from nrpfiles.streams import MemorySink

MIB = 1 << 20


@pytest.fixture
def zenodo(local_repository_factory):
    # A generous window: these cases are about multipart and limits, not pacing.
    return local_repository_factory(profile="zenodo", rate_limit=(600, 1.0), max_files=3)


@pytest.fixture
def zenodo_client(zenodo):
    with Client(zenodo.url, token=zenodo.token) as client:
        yield client


def test_multipart_lands_as_a_local_upload_and_is_learnt_once(zenodo, zenodo_client, caplog):
    caplog.set_level(logging.INFO, logger="nrpfiles")
    draft = zenodo_client.records.create({"title": "To Zenodo"})
    data = random.Random(1).randbytes(11 * MIB)
    for key in ("first.bin", "second.bin"):
        file = zenodo_client.files.upload(
            draft, key, {}, data, "multipart", {"part_size": 5 * MIB}
        )
        assert file.status == "completed"
        assert file.checksum == "md5:" + hashlib.md5(data).hexdigest()
    assert (zenodo_client.files.download(draft, "second.bin", MemorySink())).data == data
    assert zenodo.stats["refused_multipart"] >= 1
    refusals = [r for r in caplog.records if "refuses multipart" in r.getMessage()]
    assert len(refusals) == 1
    assert [f.key for f in zenodo_client.files.list(draft)] == ["first.bin", "second.bin"]


def test_the_files_limit_of_a_record_is_a_clear_error(zenodo_client):
    draft = zenodo_client.records.create({"title": "Full"})
    for n in range(3):
        zenodo_client.files.upload(draft, f"{n}.txt", {}, b"%d" % n)
    with pytest.raises(LimitExceededError) as caught:
        zenodo_client.files.upload(draft, "3.txt", {}, b"3")
    assert caught.value.limit == "files per record" and "'3.txt'" in str(caught.value)
    assert len(zenodo_client.files.list(draft)) == 3


def test_nothing_is_refused_for_rate_and_the_headers_are_read(zenodo, zenodo_client):
    draft = zenodo_client.records.create({"title": "Counted"})
    zenodo_client.files.upload(draft, "a.txt", {}, b"a")
    assert zenodo.stats["rate_limited"] == 0
    assert zenodo_client._http._pacer._limit == 600  # the client read the announced limit


def test_a_file_above_100_mib_goes_in_one_request_where_multipart_is_refused(
    zenodo_client, tmp_path
):
    path = tmp_path / "big.bin"
    with open(path, "wb") as sparse:
        sparse.seek(100 * MIB)
        sparse.write(b"!")
    draft = zenodo_client.records.create({"title": "Big"})
    file = zenodo_client.files.upload(draft, "big.bin", {}, path)
    assert file.status == "completed" and file.size == 100 * MIB + 1
