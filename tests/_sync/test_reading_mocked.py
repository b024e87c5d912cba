# Generated from tests/_async/test_reading_mocked.py by scripts/gen_sync.py: do not edit.
# body-sha256: 92fbe315a80fa9ec3e190528d47620efb7ae25a8fbefd849129ceaec12640ba2
"""files.open() against mocked HTTP: checksums at the end of the stream, refusals, redirects."""

from __future__ import annotations

import hashlib
import logging

import pytest
import pytest

from nrpfiles import Client, RetryPolicy
from nrpfiles.errors import ChecksumMismatchError, DoesNotExistError, TransferError
from nrpfiles.models import File, structure
from tests.checksums import composite_of

ROOT = "https://repo.example.org"
API = f"{ROOT}/api"
TOKEN = "mock-token-456"
FILES = f"{API}/records/abc/draft/files"
NO_WAIT = RetryPolicy(attempts=3, initial_wait=0, max_wait=0, jitter=False)
DATA = bytes(range(256)) * 4099  # about 1 MiB


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def entry(data: bytes, checksum: str | None = None, **fields) -> dict:
    base = f"{FILES}/a.bin"
    return {
        "key": "a.bin",
        "status": "completed",
        "size": len(data),
        "checksum": checksum or md5(data),
        "metadata": {},
        "links": {"self": base, "content": f"{base}/content"},
        **fields,
    }


def file_of(data: bytes, checksum: str | None = None, **fields) -> File:
    return structure(entry(data, checksum, **fields), File)


@pytest.fixture
def client(respx_mock):
    respx_mock.get(f"{ROOT}/.well-known/repository").respond(
        200, json={"transfers": ["L", "M"], "links": {"api": API}}
    )
    with Client(ROOT, token=TOKEN, retry=NO_WAIT) as client:
        yield client


def test_a_checksum_mismatch_is_raised_at_the_end_of_the_stream(client, respx_mock):
    respx_mock.get(f"{FILES}/a.bin/content").respond(200, content=DATA)
    received = []
    with pytest.raises(ChecksumMismatchError) as raised:
        with client.files.open(file_of(DATA, checksum=md5(b"other"))) as stream:
            for chunk in stream.iter_bytes(chunk_size=65536):
                received.append(chunk)
    assert b"".join(received) == DATA  # the caller had every byte before the error
    assert raised.value.key == "a.bin" and raised.value.actual == md5(DATA)
    assert "already read" in str(raised.value)


def test_a_multipart_checksum_is_checked_part_by_part(client, respx_mock):
    respx_mock.get(f"{FILES}/a.bin/content").respond(200, content=DATA)
    part_size = 300_000
    good = composite_of(DATA, part_size)
    with client.files.open(file_of(DATA, checksum=good)) as stream:
        assert stream.read() == DATA
    wrong = composite_of(DATA, part_size + 1).rsplit("-", 1)[0] + f"-{part_size}"
    with pytest.raises(ChecksumMismatchError):
        with client.files.open(file_of(DATA, checksum=wrong)) as stream:
            stream.read()


def test_an_unknown_checksum_is_read_with_a_warning(client, respx_mock, caplog):
    respx_mock.get(f"{FILES}/a.bin/content").respond(200, content=DATA)
    with caplog.at_level(logging.WARNING, logger="nrpfiles"):
        with client.files.open(file_of(DATA, checksum="sha256:abc")) as stream:
            assert stream.read() == DATA
    assert "not verified" in caplog.text


def test_open_by_record_and_key_reads_the_entry_first(client, respx_mock):
    from nrpfiles.models import Record

    record = structure(
        {"id": "abc", "is_draft": True, "links": {"self": f"{API}/records/abc/draft", "files": FILES}},
        Record,
    )
    respx_mock.get(f"{FILES}/a.bin").respond(200, json=entry(DATA))
    respx_mock.get(f"{FILES}/a.bin/content").respond(200, content=DATA)
    stream = client.files.open(record, "a.bin")
    with pytest.raises(ValueError, match="not known"):
        stream.file  # noqa: B018 - the entry is read when the stream starts
    with stream:
        assert stream.file.size == len(DATA)
        assert stream.read() == DATA


def test_a_missing_file_raises_when_the_stream_starts(client, respx_mock):
    respx_mock.get(f"{FILES}/gone.bin").respond(404, json={"status": 404, "message": "gone"})
    with pytest.raises(DoesNotExistError):
        with client.files.open(f"{FILES}/gone.bin"):
            pass


def test_an_unfinished_file_is_refused_before_any_content_request(client, respx_mock):
    content = respx_mock.get(f"{FILES}/a.bin/content").respond(200, content=DATA)
    with pytest.raises(TransferError, match="pending"):
        with client.files.open(file_of(DATA, status="pending")):
            pass
    assert content.call_count == 0


def test_a_redirect_to_storage_is_followed_without_the_token(client, respx_mock):
    storage = "https://storage.example.net/bucket/a.bin?X-Signature=abc"
    respx_mock.get(f"{FILES}/a.bin/content").respond(302, headers={"Location": storage})
    route = respx_mock.get(storage).respond(200, content=DATA)
    with client.files.open(file_of(DATA)) as stream:
        assert stream.read() == DATA
    assert "Authorization" not in route.calls.last.request.headers


def test_more_bytes_than_the_entry_says_are_refused(client, respx_mock):
    respx_mock.get(f"{FILES}/a.bin/content").respond(200, content=DATA + b"extra")
    with pytest.raises(TransferError, match="more bytes"):
        with client.files.open(file_of(DATA)) as stream:
            stream.read()
