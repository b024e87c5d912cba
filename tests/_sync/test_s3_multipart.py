# Generated from tests/_async/test_s3_multipart.py by scripts/gen_sync.py: do not edit.
# body-sha256: a18c3ac946c8fd7e7dbf634a2475368bf58d6d4e11532a8741b07a5a3aee8ebe
"""Multipart on S3 storage, against mocked HTTP: composite checksums, presigned links, bare 500s.

These are the answers invenio-s3 gives that a file store never does: part URLs
presigned on the storage host, XML errors from storage, a commit reporting
``multipart:<etag>-<parts>-<part_size>``, and downloads redirected to storage.
"""

from __future__ import annotations

import hashlib
import logging
import re

import httpx
import pytest

from nrpfiles.errors import ChecksumMismatchError, RepositoryServerError
from nrpfiles.models import File, structure
from nrpfiles.streams import MemorySink
from tests._sync.test_files_mocked import FILES, client, draft, entry  # noqa: F401 (fixtures)
from tests.checksums import composite_of as composite

MIB = 1 << 20
PART = 5 * MIB
STORAGE = "http://127.0.0.1:8333/bucket"
EXPIRED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Request has expired</Message></Error>"
)


def pending(key: str, generation: int = 1) -> dict:
    """A pending M entry whose part URLs are presigned on storage, as invenio-s3 gives them."""
    body = entry(key, transfer={"type": "M"}, checksum=None)
    body["links"] = {
        "self": f"{FILES}/{key}",
        "commit": f"{FILES}/{key}/commit",
        "parts": [
            {
                "part": n,
                "url": f"{STORAGE}/{key}?partNumber={n}&uploadId=u1&X-Amz-Signature=g{generation}",
                "expiration": "2026-12-07T08:24:54Z",
            }
            for n in (1, 2, 3)
        ],
    }
    return body


DATA = bytes(range(256)) * (11 * MIB // 256)  # three parts: 5, 5 and 1 MiB


def upload(client, draft, key="big.bin"):
    return client.files.upload(draft, key, {}, DATA, "multipart", {"part_size": PART})


def test_a_multipart_checksum_verifies_the_upload(client, respx_mock, draft, caplog):
    respx_mock.post(FILES).respond(201, json={"entries": [pending("big.bin")]})
    parts = respx_mock.put(url__startswith=f"{STORAGE}/big.bin").respond(
        200, headers={"ETag": '"x"'}
    )
    committed = entry("big.bin", status="completed", size=len(DATA), checksum=composite(DATA, PART))
    respx_mock.post(f"{FILES}/big.bin/commit").respond(200, json=committed)
    deleted = respx_mock.delete(f"{FILES}/big.bin").respond(204)
    with caplog.at_level(logging.INFO, logger="nrpfiles"):
        file = upload(client, draft)
    assert file.checksum == composite(DATA, PART)
    assert parts.call_count == 3 and not deleted.called
    assert "not verified" not in caplog.text
    assert all("Authorization" not in call.request.headers for call in parts.calls)


@pytest.mark.parametrize("reported", ["multipart", "md5"])
def test_parts_to_storage_hash_the_whole_file_only_when_its_md5_is_asked_for(
    client, respx_mock, draft, monkeypatch, reported
):
    import nrpfiles._sync.upload_steps as steps

    whole: list[int] = []
    md5_of_source = steps.md5_of_source

    def counted(source, size):
        whole.append(size)
        return md5_of_source(source, size)

    monkeypatch.setattr(steps, "md5_of_source", counted)
    respx_mock.post(FILES).respond(201, json={"entries": [pending("big.bin")]})
    respx_mock.put(url__startswith=f"{STORAGE}/big.bin").respond(200, headers={"ETag": '"x"'})
    checksum = (
        composite(DATA, PART)
        if reported == "multipart"
        else "md5:" + hashlib.md5(DATA).hexdigest()  # an eager worker replaced it already
    )
    committed = entry("big.bin", status="completed", size=len(DATA), checksum=checksum)
    respx_mock.post(f"{FILES}/big.bin/commit").respond(200, json=committed)
    deleted = respx_mock.delete(f"{FILES}/big.bin").respond(204)
    file = upload(client, draft)
    assert file.checksum == checksum and not deleted.called
    # S3 reports the composite: a second hash of every byte would only take a core.
    assert whole == ([] if reported == "multipart" else [len(DATA)])


def test_a_wrong_multipart_checksum_removes_the_file(client, respx_mock, draft):
    respx_mock.post(FILES).respond(201, json={"entries": [pending("big.bin")]})
    respx_mock.put(url__startswith=f"{STORAGE}/big.bin").respond(200)
    damaged = DATA[:-1] + b"!"
    committed = entry(
        "big.bin", status="completed", size=len(DATA), checksum=composite(damaged, PART)
    )
    respx_mock.post(f"{FILES}/big.bin/commit").respond(200, json=committed)
    deleted = respx_mock.delete(f"{FILES}/big.bin").respond(204)
    with pytest.raises(ChecksumMismatchError) as caught:
        upload(client, draft)
    assert deleted.called
    assert caught.value.actual == composite(damaged, PART)
    assert caught.value.expected == composite(DATA, PART)


def test_an_expired_part_link_is_signed_again_not_abandoned(client, respx_mock, draft):
    init = respx_mock.post(FILES).respond(201, json={"entries": [pending("big.bin")]})
    stale = respx_mock.put(url__regex=r".*partNumber=2&.*Signature=g1$").respond(
        403, content=EXPIRED, headers={"Content-Type": "application/xml"}
    )
    fresh = respx_mock.put(url__regex=r".*Signature=g2$").respond(200)
    others = respx_mock.put(url__startswith=f"{STORAGE}/big.bin").respond(200)
    reread = respx_mock.get(f"{FILES}/big.bin").respond(200, json=pending("big.bin", 2))
    committed = entry("big.bin", status="completed", size=len(DATA), checksum=composite(DATA, PART))
    respx_mock.post(f"{FILES}/big.bin/commit").respond(200, json=committed)
    local = respx_mock.put(f"{FILES}/big.bin/content").respond(200)
    file = upload(client, draft)
    assert file.status == "completed"
    # Parts that start after the refresh may use the fresh links too.
    assert stale.call_count == 1 and fresh.call_count + others.call_count == 3
    assert any("partNumber=2&" in str(call.request.url) for call in fresh.calls)
    assert reread.called and init.call_count == 1 and not local.called


def test_a_part_storage_keeps_refusing_fails_with_its_code(client, respx_mock, draft):
    respx_mock.post(FILES).respond(201, json={"entries": [pending("big.bin")]})
    respx_mock.put(url__startswith=f"{STORAGE}/big.bin").respond(
        403,
        content=b"<Error><Code>SignatureDoesNotMatch</Code><Message>bad</Message></Error>",
    )
    respx_mock.get(f"{FILES}/big.bin").respond(200, json=pending("big.bin", 2))
    deleted = respx_mock.delete(f"{FILES}/big.bin").respond(204)
    with pytest.raises(Exception, match="SignatureDoesNotMatch: bad") as caught:
        upload(client, draft)
    assert "was removed from the draft" in str(caught.value)
    assert deleted.called


def test_a_bare_500_at_commit_is_explained(client, respx_mock, draft):
    respx_mock.post(FILES).respond(201, json={"entries": [pending("big.bin")]})
    respx_mock.put(url__startswith=f"{STORAGE}/big.bin").respond(200)
    respx_mock.post(f"{FILES}/big.bin/commit").respond(500, content=b"")
    respx_mock.get(f"{FILES}/big.bin").respond(200, json=pending("big.bin"))
    deleted = respx_mock.delete(f"{FILES}/big.bin").respond(204)
    with pytest.raises(RepositoryServerError) as caught:
        upload(client, draft)
    text = str(caught.value)
    assert "could not complete the multipart upload of 'big.bin'" in text
    assert "the file is pending" in text and "every part" in text
    assert deleted.called


def test_a_commit_that_landed_before_its_500_is_verified(client, respx_mock, draft):
    respx_mock.post(FILES).respond(201, json={"entries": [pending("big.bin")]})
    respx_mock.put(url__startswith=f"{STORAGE}/big.bin").respond(200)
    respx_mock.post(f"{FILES}/big.bin/commit").respond(500, content=b"")
    completed = entry("big.bin", status="completed", size=len(DATA), checksum=composite(DATA, PART))
    respx_mock.get(f"{FILES}/big.bin").respond(200, json=completed)
    deleted = respx_mock.delete(f"{FILES}/big.bin").respond(204)
    file = upload(client, draft)
    assert file.status == "completed" and not deleted.called


def test_a_checksum_computed_after_commit_is_waited_for(client, respx_mock, draft, caplog):
    """A file store computes an M upload's checksum in a background task."""
    body = entry("big.bin", transfer={"type": "M"})
    body["links"] = {
        "self": f"{FILES}/big.bin",
        "commit": f"{FILES}/big.bin/commit",
        "parts": [
            {"part": n, "url": f"{FILES}/big.bin/content/{n}", "expiration": None}
            for n in (1, 2, 3)
        ],
    }
    respx_mock.post(FILES).respond(201, json={"entries": [body]})
    respx_mock.put(url__regex=rf"{re.escape(FILES)}/big\.bin/content/\d").respond(200)
    done = {"status": "completed", "size": len(DATA)}
    respx_mock.post(f"{FILES}/big.bin/commit").respond(
        200, json=entry("big.bin", checksum=None, **done)
    )
    later = respx_mock.get(f"{FILES}/big.bin").mock(
        side_effect=[
            httpx.Response(200, json=entry("big.bin", checksum=None, **done)),
            httpx.Response(
                200, json=entry("big.bin", checksum="md5:" + hashlib.md5(DATA).hexdigest(), **done)
            ),
        ]
    )
    with caplog.at_level(logging.WARNING, logger="nrpfiles"):
        file = upload(client, draft)
    assert file.checksum == "md5:" + hashlib.md5(DATA).hexdigest()
    assert later.call_count == 2
    assert "not verified" not in caplog.text


def stored_file(checksum: str) -> File:
    return structure(
        entry("big.bin", status="completed", size=len(DATA), checksum=checksum), File
    )


@pytest.mark.parametrize("parts", [1, 3])
def test_a_download_is_verified_against_a_multipart_checksum(client, respx_mock, parts):
    presigned = f"{STORAGE}/big.bin?X-Amz-Signature=s"
    respx_mock.get(f"{FILES}/big.bin/content").respond(302, headers={"Location": presigned})

    def serve(request: httpx.Request) -> httpx.Response:
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", request.headers.get("Range", ""))
        if not match:
            return httpx.Response(200, content=DATA)
        start, end = int(match[1]), int(match[2]) + 1 if match[2] else len(DATA)
        headers = {"Content-Range": f"bytes {start}-{end - 1}/{len(DATA)}"}
        return httpx.Response(206, content=DATA[start:end], headers=headers)

    respx_mock.get(presigned).mock(side_effect=serve)
    sink = client.files.download(
        stored_file(composite(DATA, PART)), MemorySink(), parts=parts
    )
    assert sink.data == DATA
    with pytest.raises(ChecksumMismatchError, match="multipart:"):
        client.files.download(stored_file(composite(DATA[:-1] + b"?", PART)), MemorySink())


def test_an_expired_download_link_is_asked_for_again(client, respx_mock, caplog):
    first, second = f"{STORAGE}/big.bin?X-Amz-Signature=one", f"{STORAGE}/big.bin?X-Amz-Signature=two"
    api = respx_mock.get(f"{FILES}/big.bin/content").mock(
        side_effect=[
            httpx.Response(302, headers={"Location": first}),
            httpx.Response(302, headers={"Location": second}),
        ]
    )
    respx_mock.get(first).respond(403, content=EXPIRED, headers={"Content-Type": "application/xml"})
    respx_mock.get(second).respond(200, content=DATA)
    with caplog.at_level(logging.WARNING, logger="nrpfiles"):
        sink = client.files.download(stored_file(composite(DATA, PART)), MemorySink())
    assert sink.data == DATA and api.call_count == 2
    assert "Request has expired" in caplog.text
