"""Files API against mocked HTTP: protocol quirks the local repository does not show."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time

import httpx
import pytest
import pytest_asyncio

from nrpfiles import AsyncClient, RetryPolicy
from nrpfiles.errors import ChecksumMismatchError, RepositoryClientError, TransferError
from nrpfiles.models import Record, structure
from nrpfiles.streams import MemorySink, MemorySource

ROOT = "https://repo.example.org"
API = f"{ROOT}/api"
TOKEN = "mock-token-123"
FILES = f"{API}/records/abc/draft/files"
NO_WAIT = RetryPolicy(attempts=3, initial_wait=0, max_wait=0, jitter=False)


def entry(key: str, **fields) -> dict:
    base = f"{FILES}/{key}"
    return {
        "key": key,
        "status": "pending",
        "metadata": {},
        "links": {"self": base, "content": f"{base}/content", "commit": f"{base}/commit"},
        **fields,
    }


def two_part_entry(key: str) -> dict:
    """The entry of a multipart file whose two parts go to the repository's own API."""
    base = f"{FILES}/{key}"
    parts = [{"part": n, "url": f"{base}/content/{n}", "expiration": None} for n in (1, 2)]
    return entry(
        key,
        transfer={"type": "M"},
        links={"self": base, "parts": parts, "commit": f"{base}/commit"},
    )


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


@pytest_asyncio.fixture
async def client(respx_mock):
    respx_mock.get(f"{ROOT}/.well-known/repository").respond(
        200, json={"transfers": ["L", "M"], "links": {"api": API}}
    )
    async with AsyncClient(ROOT, token=TOKEN, retry=NO_WAIT) as client:
        yield client


@pytest.fixture
def draft() -> Record:
    return structure(
        {
            "id": "abc",
            "is_draft": True,
            "links": {"self": f"{API}/records/abc/draft", "files": FILES},
        },
        Record,
    )


async def test_local_upload_streams_with_length_and_verifies(client, respx_mock, draft):
    data = b"hello world" * 1000
    init = respx_mock.post(FILES).respond(201, json={"entries": [entry("a.txt")]})
    content = respx_mock.put(f"{FILES}/a.txt/content").respond(200, json=entry("a.txt"))
    respx_mock.post(f"{FILES}/a.txt/commit").respond(
        200, json=entry("a.txt", status="completed", size=len(data), checksum=md5(data))
    )
    file = await client.files.upload(draft, "a.txt", {"description": "d"}, data)
    assert file.status == "completed" and file.checksum == md5(data)
    sent = content.calls.last.request
    assert sent.headers["Content-Length"] == str(len(data))
    assert sent.headers["Content-Type"] == "application/octet-stream"
    assert "chunked" not in sent.headers.get("Transfer-Encoding", "")
    assert sent.content == data
    assert init.calls.last.request.read() == b'[{"key":"a.txt","metadata":{"description":"d"}}]'


async def test_checksum_mismatch_deletes_the_file_and_raises(client, respx_mock, draft):
    respx_mock.post(FILES).respond(201, json={"entries": [entry("a.txt")]})
    respx_mock.put(f"{FILES}/a.txt/content").respond(200, json=entry("a.txt"))
    respx_mock.post(f"{FILES}/a.txt/commit").respond(
        200, json=entry("a.txt", status="completed", size=3, checksum=md5(b"xyz"))
    )
    deleted = respx_mock.delete(f"{FILES}/a.txt").respond(204)
    with pytest.raises(ChecksumMismatchError) as caught:
        await client.files.upload(draft, "a.txt", {}, b"abc")
    assert deleted.called
    assert "deleted" in str(caught.value)
    assert caught.value.expected == md5(b"abc")


async def test_200_with_transfer_failed_string_is_a_transfer_error(client, respx_mock, draft):
    respx_mock.post(FILES).respond(201, json={"entries": [entry("a.txt")]})
    respx_mock.put(f"{FILES}/a.txt/content").respond(
        200, json={"errors": "File upload transfer failed."}
    )
    deleted = respx_mock.delete(f"{FILES}/a.txt").respond(404)
    with pytest.raises(TransferError, match="File upload transfer failed"):
        await client.files.upload(draft, "a.txt", {}, b"abc")
    assert deleted.called


async def test_parts_refused_by_the_repository_fall_back_to_a_local_upload(
    client, respx_mock, draft
):
    size = 12 << 20
    data = bytes(range(256)) * (size // 256)
    # Zenodo's part URLs are its own API's, and it refuses every part with 403.
    parts = [{"part": n, "url": f"{FILES}/big.bin/content/{n}", "expiration": None} for n in (1, 2)]
    multipart = entry("big.bin", transfer={"type": "M"})
    multipart["links"] = {"self": f"{FILES}/big.bin", "parts": parts}
    init = respx_mock.post(FILES).mock(
        side_effect=[
            httpx.Response(201, json={"entries": [multipart]}),
            httpx.Response(201, json={"entries": [entry("big.bin")]}),
        ]
    )
    part_route = respx_mock.put(url__regex=rf"{re.escape(FILES)}/big\.bin/content/\d").respond(
        403, json={"status": 403, "message": "Permission denied."}
    )
    deleted = respx_mock.delete(f"{FILES}/big.bin").respond(204)
    local = respx_mock.put(f"{FILES}/big.bin/content").respond(200, json=entry("big.bin"))
    respx_mock.post(f"{FILES}/big.bin/commit").respond(
        200, json=entry("big.bin", status="completed", size=size, checksum=md5(data))
    )
    file = await client.files.upload(
        draft, "big.bin", {}, data, "multipart", {"part_size": 6 << 20}
    )
    assert file.status == "completed"
    assert deleted.called and local.called
    assert init.call_count == 2
    assert part_route.called


async def test_an_unfinished_entry_with_the_same_key_is_replaced(client, respx_mock, draft):
    duplicate = httpx.Response(
        400, json={"status": 400, "message": "File with key a.txt already exists."}
    )
    respx_mock.post(FILES).mock(
        side_effect=[duplicate, httpx.Response(201, json={"entries": [entry("a.txt")]})]
    )
    respx_mock.get(FILES).respond(200, json={"entries": [entry("a.txt", status="pending")]})
    deleted = respx_mock.delete(f"{FILES}/a.txt").respond(204)
    respx_mock.put(f"{FILES}/a.txt/content").respond(200, json=entry("a.txt"))
    respx_mock.post(f"{FILES}/a.txt/commit").respond(
        200, json=entry("a.txt", status="completed", size=1, checksum=md5(b"x"))
    )
    file = await client.files.upload(draft, "a.txt", {}, b"x")
    assert deleted.called and file.status == "completed"


async def test_a_completed_file_with_the_same_key_is_kept(client, respx_mock, draft):
    from nrpfiles.errors import ConflictError

    respx_mock.post(FILES).respond(
        400, json={"status": 400, "message": "File with key a.txt already exists."}
    )
    respx_mock.get(FILES).respond(200, json={"entries": [entry("a.txt", status="completed")]})
    deleted = respx_mock.delete(f"{FILES}/a.txt").respond(204)
    with pytest.raises(ConflictError, match="overwrite=True"):
        await client.files.upload(draft, "a.txt", {}, b"x")
    assert not deleted.called


def content_route(respx_mock, data: bytes, *, ranges: bool, location: str | None = None):
    """A content URL that serves ``data``, with or without byte ranges."""
    etag = '"' + md5(data) + '"'

    def serve(request: httpx.Request) -> httpx.Response:
        header = request.headers.get("Range")
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", header or "")
        if ranges and match:
            start = int(match[1])
            end = int(match[2]) + 1 if match[2] else len(data)
            return httpx.Response(
                206,
                content=data[start:end],
                headers={"Content-Range": f"bytes {start}-{end - 1}/{len(data)}", "ETag": etag},
            )
        return httpx.Response(200, content=data, headers={"ETag": etag})

    url = location or f"{FILES}/a.bin/content"
    return respx_mock.get(url).mock(side_effect=serve)


def file_entry(data: bytes, checksum: str | None = None):
    from nrpfiles.models import File

    return structure(
        entry("a.bin", status="completed", size=len(data), checksum=checksum or md5(data)), File
    )


@pytest.mark.parametrize("ranges", [True, False])
async def test_ranged_download_verifies_and_pins_the_version(client, respx_mock, ranges):
    data = bytes(range(256)) * (3 * 4096 + 7)  # a little over 3 MiB
    route = content_route(respx_mock, data, ranges=ranges)
    sink = MemorySink()
    await client.files.download(file_entry(data), sink, parts=3)
    assert sink.data == data
    if ranges:
        assert route.call_count == 3
        later = route.calls[1:]
        assert all(c.request.headers["If-Match"] == f'"{md5(data)}"' for c in later)
    else:
        assert route.call_count == 1  # a 200 to a Range request carries the whole file


async def test_auto_downloads_a_large_file_in_ranges_measured_in_waves(
    client, respx_mock, monkeypatch
):
    import nrpfiles._transfer_plan as plan

    monkeypatch.setattr(plan, "RANGED_DOWNLOAD_THRESHOLD", 1 << 20)
    monkeypatch.setattr(plan, "DEFAULT_DOWNLOAD_PART_SIZE", 1 << 20)
    data = bytes(range(256)) * (4096 * 7 + 3)  # seven ranges of 1 MiB and a little over
    route = content_route(respx_mock, data, ranges=True)
    sink = MemorySink()
    await client.files.download(file_entry(data), sink)
    assert sink.data == data
    assert route.call_count == 8
    starts = sorted(int(c.request.headers["Range"][6:].split("-")[0]) for c in route.calls)
    step = -(-len(data) // 8)
    assert starts == list(range(0, len(data), step))


async def test_once_auto_settles_at_one_part_the_ranges_left_go_in_one_request(
    client, respx_mock, monkeypatch
):
    import nrpfiles._transfer_plan as plan
    import nrpfiles._widening as widening

    monkeypatch.setattr(plan, "RANGED_DOWNLOAD_THRESHOLD", 1 << 20)
    monkeypatch.setattr(plan, "DEFAULT_DOWNLOAD_PART_SIZE", 1 << 20)
    monkeypatch.setattr(widening, "MIN_MEASURED_SECONDS", 0.0)
    monkeypatch.setattr(widening, "GAIN", 1e9)  # a second part at once never pays here
    data = bytes(range(256)) * (4096 * 11 + 3)  # eleven ranges of 1 MiB and a little over
    route = content_route(respx_mock, data, ranges=True)
    sink = MemorySink()
    await client.files.download(file_entry(data), sink)
    assert sink.data == data
    # Two ranges one at a time, four two at a time, then the six left as one.
    asked = [c.request.headers["Range"] for c in route.calls]
    step = -(-len(data) // 12)  # twelve equal ranges
    assert len(asked) == 7
    assert asked[-1] == f"bytes={6 * step}-{len(data) - 1}"


async def test_download_mismatch_leaves_no_target(client, respx_mock, tmp_path):
    data = b"the bytes"
    content_route(respx_mock, data, ranges=False)
    target = tmp_path / "out" / "a.bin"
    with pytest.raises(ChecksumMismatchError):
        await client.files.download(file_entry(data, checksum=md5(b"other")), target)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


async def test_redirect_to_storage_is_followed_without_the_token(client, respx_mock, tmp_path):
    data = b"stored elsewhere"
    storage = "https://storage.example.net/bucket/a.bin?X-Signature=abc"
    respx_mock.get(f"{FILES}/a.bin/content").respond(302, headers={"Location": storage})
    route = content_route(respx_mock, data, ranges=False, location=storage)
    target = tmp_path / "a.bin"
    result = await client.files.download(file_entry(data), target)
    assert target.read_bytes() == data
    assert str(result) == str(target)
    assert "Authorization" not in route.calls.last.request.headers


async def test_later_ranges_go_straight_to_the_storage_the_repository_redirected_to(
    client, respx_mock
):
    data = bytes(range(256)) * (3 * 4096 + 7)
    storage = "https://storage.example.net/bucket/a.bin?X-Signature=abc"
    repository = respx_mock.get(f"{FILES}/a.bin/content").respond(
        302, headers={"Location": storage}
    )
    stored = content_route(respx_mock, data, ranges=True, location=storage)
    sink = MemorySink()
    await client.files.download(file_entry(data), sink, parts=4)
    assert sink.data == data
    assert repository.call_count == 1 and stored.call_count == 4
    assert all("Authorization" not in call.request.headers for call in stored.calls)


@pytest.mark.parametrize("refusal", [403, 400], ids=["403 expired", "400 expired"])
async def test_a_storage_link_that_stops_serving_is_asked_of_the_repository_again(
    client, respx_mock, refusal
):
    data = bytes(range(256)) * (3 * 4096 + 7)
    old, fresh = (f"https://storage.example.net/a.bin?X-Signature={s}" for s in ("old", "new"))
    links = iter([old, fresh])
    repository = respx_mock.get(f"{FILES}/a.bin/content").mock(
        side_effect=lambda request: httpx.Response(302, headers={"Location": next(links)})
    )
    serve_old = content_route(respx_mock, data, ranges=True, location=old).side_effect
    served: list[str] = []

    def expiring(request: httpx.Request) -> httpx.Response:
        served.append(request.headers["Range"])
        if len(served) > 1:  # the link expired after the first range
            return httpx.Response(refusal, text="<Error><Code>AccessDenied</Code></Error>")
        return serve_old(request)

    respx_mock.get(old).mock(side_effect=expiring)
    from_fresh = content_route(respx_mock, data, ranges=True, location=fresh)
    sink = MemorySink()
    await client.files.download(file_entry(data), sink, parts=2)
    assert sink.data == data
    assert repository.call_count == 2 and from_fresh.call_count == 1


async def test_a_partial_answer_with_the_wrong_range_is_refused(client, respx_mock):
    data = bytes(4 << 20)
    respx_mock.get(f"{FILES}/a.bin/content").respond(
        206, content=data[:1024], headers={"Content-Range": f"bytes 5-1028/{len(data)}"}
    )
    with pytest.raises(TransferError, match="range"):
        await client.files.download(file_entry(data), MemorySink(), parts=2)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"key": "", "source": b"x"}, ValueError),
        ({"key": "a", "source": "/definitely/not/here.csv"}, FileNotFoundError),
        ({"key": "a", "source": "."}, IsADirectoryError),
        ({"key": "a", "source": b"x", "transfer_type": "carrier-pigeon"}, ValueError),
        ({"key": "a", "source": "not a url", "transfer_type": "url-fetch"}, ValueError),
        (
            {
                "key": "a",
                "source": b"x" * 10,
                "transfer_type": "M",
                "transfer_metadata": {"part_size": 0},
            },
            ValueError,
        ),
        (
            {
                "key": "a",
                "source": b"x" * 20_001,
                "transfer_type": "M",
                "transfer_metadata": {"part_size": 2},
            },
            ValueError,
        ),
    ],
)
async def test_bad_upload_input_is_refused_before_any_request(
    client, respx_mock, draft, kwargs, error
):
    calls_before = len(respx_mock.calls)
    with pytest.raises(error):
        await client.files.upload(draft, **kwargs)
    assert len(respx_mock.calls) == calls_before


@pytest.mark.parametrize("key", ["../escape.txt", "/etc/passwd", "a/../../b"])
async def test_keys_cannot_escape_a_target_directory(client, respx_mock, tmp_path, key):
    from nrpfiles.models import File

    file = structure({"key": key, "size": 1, "links": {"content": f"{FILES}/x/content"}}, File)
    with pytest.raises(ValueError, match="outside"):
        await client.files.download(file, str(tmp_path) + "/")
    assert list(tmp_path.iterdir()) == []
    assert len(respx_mock.calls) == 0


async def test_a_file_of_another_record_is_refused(client, respx_mock, draft):
    from nrpfiles.models import File

    other = structure(
        {"key": "a.txt", "links": {"self": f"{API}/records/zzz/draft/files/a.txt"}}, File
    )
    with pytest.raises(ValueError, match="another record"):
        await client.files.download(draft, other, MemorySink())
    with pytest.raises(ValueError, match="another record"):
        await client.files.delete(draft, other)


async def test_a_lost_answer_to_the_file_creation_is_recovered(client, respx_mock, draft):
    duplicate = httpx.Response(
        400, json={"status": 400, "message": "File with key a.txt already exists."}
    )
    init = respx_mock.post(FILES).mock(
        side_effect=[
            httpx.ReadError("connection lost after sending"),  # the server did create it
            duplicate,
            httpx.Response(201, json={"entries": [entry("a.txt")]}),
        ]
    )
    respx_mock.get(FILES).respond(200, json={"entries": [entry("a.txt", status="pending")]})
    deleted = respx_mock.delete(f"{FILES}/a.txt").respond(204)
    respx_mock.put(f"{FILES}/a.txt/content").respond(200, json=entry("a.txt"))
    respx_mock.post(f"{FILES}/a.txt/commit").respond(
        200, json=entry("a.txt", status="completed", size=1, checksum=md5(b"x"))
    )
    file = await client.files.upload(draft, "a.txt", {}, b"x")
    assert file.status == "completed"
    assert init.call_count == 3 and deleted.call_count == 1


class _SourceWhoseHashFails(MemorySource):
    """Reads fine for sending, fails for the MD5 thread: a file changed or unreadable."""

    def iter_chunks(self, offset=0, length=None, chunk_size=4 << 20):
        if threading.current_thread().name == "nrpfiles-md5":
            raise OSError("disk went away while hashing")
        return super().iter_chunks(offset, length, chunk_size)


async def test_a_failed_hash_leaves_no_committed_unverified_file(client, respx_mock, draft):
    respx_mock.post(FILES).respond(201, json={"entries": [entry("a.txt")]})
    respx_mock.put(f"{FILES}/a.txt/content").respond(200, json=entry("a.txt"))
    commit = respx_mock.post(f"{FILES}/a.txt/commit").respond(
        200, json=entry("a.txt", status="completed", size=3, checksum=md5(b"abc"))
    )
    deleted = respx_mock.delete(f"{FILES}/a.txt").respond(204)
    with pytest.raises(OSError, match="disk went away"):
        await client.files.upload(draft, "a.txt", {}, _SourceWhoseHashFails(b"abc"))
    assert not commit.called
    assert deleted.called


async def test_a_part_answered_with_transfer_failed_stops_the_upload(client, respx_mock, draft):
    size = 12 << 20
    data = bytes(size)
    multipart = two_part_entry("big.bin")
    respx_mock.post(FILES).respond(201, json={"entries": [multipart]})
    respx_mock.put(url__regex=rf"{re.escape(FILES)}/big\.bin/content/\d").respond(
        200, json={"errors": "File upload transfer failed."}
    )
    commit = respx_mock.post(f"{FILES}/big.bin/commit").respond(200, json=entry("big.bin"))
    deleted = respx_mock.delete(f"{FILES}/big.bin").respond(204)
    with pytest.raises(TransferError, match="File upload transfer failed"):
        await client.files.upload(draft, "big.bin", {}, data, "multipart", {"part_size": 6 << 20})
    assert not commit.called and deleted.called


async def test_a_part_too_large_for_the_repository_says_what_to_do(client, respx_mock, draft):
    multipart = two_part_entry("big.bin")
    respx_mock.post(FILES).respond(201, json={"entries": [multipart]})
    respx_mock.put(url__regex=rf"{re.escape(FILES)}/big\.bin/content/\d").respond(
        413,
        json={"status": 413, "message": "The data value transmitted exceeds the capacity limit."},
    )
    commit = respx_mock.post(f"{FILES}/big.bin/commit").respond(200, json=entry("big.bin"))
    deleted = respx_mock.delete(f"{FILES}/big.bin").respond(204)
    with pytest.raises(RepositoryClientError, match="smaller parts") as caught:
        await client.files.upload(
            draft, "big.bin", {}, bytes(12 << 20), "multipart", {"part_size": 6 << 20}
        )
    assert caught.value.status == 413 and f"{6 << 20} bytes" in str(caught.value)
    assert not commit.called and deleted.called


async def test_a_corrupted_range_fails_verification_and_leaves_no_target(
    client, respx_mock, tmp_path
):
    data = bytes(range(256)) * (3 * 4096 + 7)
    corrupted = bytearray(data)
    corrupted[len(data) // 2] ^= 0xFF  # one flipped byte, in the second of three ranges

    def serve(request: httpx.Request) -> httpx.Response:
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", request.headers.get("Range", ""))
        start = int(match[1])
        end = int(match[2]) + 1 if match[2] else len(data)
        return httpx.Response(
            206,
            content=bytes(corrupted[start:end]),
            headers={"Content-Range": f"bytes {start}-{end - 1}/{len(data)}", "ETag": '"v1"'},
        )

    route = respx_mock.get(f"{FILES}/a.bin/content").mock(side_effect=serve)
    target = tmp_path / "a.bin"
    target.write_bytes(b"previous content")
    with pytest.raises(ChecksumMismatchError):
        await client.files.download(file_entry(data), target, parts=3)
    assert route.call_count == 3
    assert target.read_bytes() == b"previous content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


async def test_a_weak_etag_is_not_used_to_pin_ranges(client, respx_mock):
    data = bytes(range(256)) * (3 * 4096 + 7)

    def serve(request: httpx.Request) -> httpx.Response:
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", request.headers.get("Range", ""))
        start = int(match[1])
        end = int(match[2]) + 1 if match[2] else len(data)
        return httpx.Response(
            206,
            content=data[start:end],
            headers={"Content-Range": f"bytes {start}-{end - 1}/{len(data)}", "ETag": 'W/"x"'},
        )

    route = respx_mock.get(f"{FILES}/a.bin/content").mock(side_effect=serve)
    sink = MemorySink()
    await client.files.download(file_entry(data), sink, parts=3)
    assert sink.data == data
    assert all("If-Match" not in call.request.headers for call in route.calls)


async def test_an_entry_dropped_after_a_broken_upload_is_created_again(client, respx_mock, draft):
    """InvenioRDM deletes the entry of a content PUT that broke off; the retry finds it gone."""
    init = respx_mock.post(FILES).respond(201, json={"entries": [entry("a.txt")]})
    put = respx_mock.put(f"{FILES}/a.txt/content").mock(
        side_effect=[
            httpx.ReadError("connection reset"),
            httpx.Response(404, json={"status": 404, "message": "File not found."}),
            httpx.Response(200, json=entry("a.txt")),
        ]
    )
    respx_mock.delete(f"{FILES}/a.txt").respond(404)
    respx_mock.post(f"{FILES}/a.txt/commit").respond(
        200, json=entry("a.txt", status="completed", size=3, checksum=md5(b"abc"))
    )
    file = await client.files.upload(draft, "a.txt", {}, b"abc")
    assert file.status == "completed"
    assert init.call_count == 2 and put.call_count == 3


async def test_a_single_upload_too_large_for_the_repository_says_what_to_do(
    client, respx_mock, draft
):
    respx_mock.post(FILES).respond(201, json={"entries": [entry("a.bin")]})
    respx_mock.put(f"{FILES}/a.bin/content").respond(
        413, text="The data value transmitted exceeds the capacity limit."
    )
    deleted = respx_mock.delete(f"{FILES}/a.bin").respond(204)
    with pytest.raises(RepositoryClientError, match="transfer_type='multipart'") as caught:
        await client.files.upload(draft, "a.bin", {}, b"x" * 1000, "local-file")
    assert caught.value.status == 413 and deleted.called


async def test_an_unfinished_file_is_not_downloaded(client, respx_mock):
    from nrpfiles.models import File

    pending = structure(entry("a.bin", status="pending"), File)
    with pytest.raises(TransferError, match="pending, not completed"):
        await client.files.download(pending, MemorySink())
    assert not respx_mock.calls


def multipart_route(respx_mock, key: str, data: bytes, part_base: str, parts: int = 2) -> list[str]:
    """The files endpoint creating ``key`` as multipart (``parts`` under ``part_base``) or L;
    returns the transfer types of the entries created, in order."""
    links = [
        {"part": n, "url": f"{part_base}/{n}", "expiration": None} for n in range(1, parts + 1)
    ]
    multipart = entry(key, transfer={"type": "M"})
    multipart["links"] = {
        "self": f"{FILES}/{key}",
        "parts": links,
        "commit": f"{FILES}/{key}/commit",
    }
    inits: list[str] = []

    def init(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)[0]
        inits.append(body.get("transfer", {}).get("type", "L"))
        created = multipart if inits[-1] == "M" else entry(body["key"])
        return httpx.Response(201, json={"entries": [created]})

    respx_mock.post(FILES).mock(side_effect=init)
    respx_mock.post(f"{FILES}/{key}/commit").respond(
        200, json=entry(key, status="completed", size=len(data), checksum=md5(data))
    )
    return inits


async def test_auto_sends_parts_in_measured_waves(client, respx_mock, draft, monkeypatch):
    import nrpfiles._transfer_plan as plan

    monkeypatch.setattr(plan, "MULTIPART_THRESHOLD", 8 << 20)
    monkeypatch.setattr(plan, "DEFAULT_UPLOAD_PART_SIZE", 5 << 20)
    data = bytes(range(256)) * (24 << 12)  # 24 MiB: five parts, the first wave one at a time
    inits = multipart_route(respx_mock, "big.bin", data, f"{FILES}/big.bin/content", parts=5)
    in_flight, most, lock = [0], [0], threading.Lock()

    def part(request: httpx.Request) -> httpx.Response:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.005)
        with lock:
            in_flight[0] -= 1
        return httpx.Response(200)

    parts = respx_mock.put(url__regex=rf"{re.escape(FILES)}/big\.bin/content/\d").mock(
        side_effect=part
    )
    file = await client.files.upload(draft, "big.bin", {}, data)
    assert file.status == "completed"
    assert inits == ["M"] and parts.call_count == 5
    assert 1 <= most[0] <= 4


async def test_auto_sends_parts_straight_to_storage(client, respx_mock, draft, monkeypatch):
    import nrpfiles._transfer_plan as plan

    monkeypatch.setattr(plan, "MULTIPART_THRESHOLD", 8 << 20)
    monkeypatch.setattr(plan, "DEFAULT_UPLOAD_PART_SIZE", 6 << 20)
    data = bytes(range(256)) * (12 << 12)
    storage = "https://storage.example.net/bucket/big.bin"
    inits = multipart_route(respx_mock, "big.bin", data, storage)
    parts = respx_mock.put(url__startswith=storage).respond(200)
    file = await client.files.upload(draft, "big.bin", {}, data)
    assert file.status == "completed"
    assert inits == ["M"]
    assert sorted(str(call.request.url) for call in parts.calls) == [f"{storage}/1", f"{storage}/2"]
    assert all("Authorization" not in call.request.headers for call in parts.calls)


async def test_multipart_refused_at_the_commit_goes_local_and_is_learnt_once(
    client, respx_mock, draft, caplog
):
    """Zenodo takes multipart at init, then refuses the parts or, here, the commit."""
    size = 12 << 20
    data = bytes(range(256)) * (size // 256)
    multipart = two_part_entry("big.bin")
    inits = []

    def init(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)[0]
        inits.append(body.get("transfer", {}).get("type", "L"))
        key = body["key"]
        created = multipart if body.get("transfer", {}).get("type") == "M" else entry(key)
        return httpx.Response(201, json={"entries": [created]})

    respx_mock.post(FILES).mock(side_effect=init)
    respx_mock.put(url__regex=rf"{re.escape(FILES)}/big\.bin/content/\d").respond(200)
    commits = {"big.bin": 0}

    def commit(request: httpx.Request) -> httpx.Response:
        commits["big.bin"] += 1
        if commits["big.bin"] == 1:
            return httpx.Response(403, json={"status": 403, "message": "Permission denied."})
        return httpx.Response(
            200, json=entry("big.bin", status="completed", size=size, checksum=md5(data))
        )

    respx_mock.post(f"{FILES}/big.bin/commit").mock(side_effect=commit)
    deleted = respx_mock.delete(f"{FILES}/big.bin").respond(204)
    local = respx_mock.put(f"{FILES}/big.bin/content").respond(200, json=entry("big.bin"))
    caplog.set_level(logging.INFO, logger="nrpfiles")
    options = {"part_size": 6 << 20}
    first = await client.files.upload(draft, "big.bin", {}, data, "multipart", options)
    assert first.status == "completed" and deleted.called and local.call_count == 1
    commits["big.bin"] = 1  # later commits succeed
    await client.files.upload(draft, "big.bin", {}, data, "multipart", options, overwrite=True)
    assert inits == ["M", "L", "L"]  # learnt: the second file goes local at once
    refusals = [r for r in caplog.records if "refuses multipart" in r.getMessage()]
    assert len(refusals) == 1


@pytest.mark.parametrize(
    ("at", "message", "limit"),
    [
        (
            "init",
            "Uploading selected files will result in exceeding the max amount per record.",
            "files per record",
        ),
        ("content", "Maximum file size exceeded.", "file size"),
        ("content", "Bucket quota exceeded.", "record quota"),
    ],
)
async def test_a_limit_the_repository_names_is_a_clear_error(
    client, respx_mock, draft, at, message, limit
):
    from nrpfiles.errors import LimitExceededError

    refusal = httpx.Response(400, json={"status": 400, "message": message})
    init = respx_mock.post(FILES).mock(
        side_effect=[refusal]
        if at == "init"
        else [httpx.Response(201, json={"entries": [entry("a.bin")]})]
    )
    content = respx_mock.put(f"{FILES}/a.bin/content").mock(side_effect=[refusal])
    deleted = respx_mock.delete(f"{FILES}/a.bin").respond(204)
    with pytest.raises(LimitExceededError) as caught:
        await client.files.upload(draft, "a.bin", {}, b"x" * 1000)
    assert caught.value.limit == limit and caught.value.key == "a.bin"
    assert "'a.bin'" in str(caught.value) and message in str(caught.value)
    assert init.call_count == 1
    assert content.call_count == (1 if at == "content" else 0)
    assert deleted.called == (at == "content")  # nothing is left half-made
