"""Bad input is refused with a clear error before any request reaches the repository.

Each case runs on a client that has not talked to the repository yet, watched by
an httpx hook that sees every request it would send, discovery included.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_asyncio

from nrpfiles import AsyncClient
from nrpfiles.errors import DoesNotExistError
from nrpfiles.streams import MemorySink
from tests.transfer_watch import AsyncRequestLog

MIB = 1 << 20


@pytest_asyncio.fixture
async def quiet_client(local_repository):
    """A new client, with a log of every request it sends."""
    async with AsyncClient(local_repository.url, token=local_repository.token) as client:
        client.request_log = AsyncRequestLog(client)
        yield client


def no_request_was_sent(client) -> bool:
    return client.request_log.sent == []


def tree(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


# -- uploads --------------------------------------------------------------------------

MULTIPART = "multipart"


@pytest.mark.parametrize(
    ("key", "source", "transfer_type", "transfer_metadata", "error", "message"),
    [
        ("", b"x", "auto", None, ValueError, "cannot be empty"),
        ("   ", b"x", "auto", None, ValueError, "cannot be empty"),
        ("a\x00b", b"x", "auto", None, ValueError, "control characters"),
        (None, b"x", "auto", None, TypeError, "string"),
        ("a", None, "auto", None, ValueError, "needs a source"),
        ("a", "missing.csv", "auto", None, FileNotFoundError, "missing.csv"),
        ("a", "DIRECTORY", "auto", None, IsADirectoryError, "directory"),
        ("a", b"x", "carrier-pigeon", None, ValueError, "unknown transfer type"),
        ("a", b"x", "Z", None, ValueError, "unknown transfer type"),
        ("a", "not a url", "url-fetch", None, ValueError, "URL"),
        ("a", "http://", "url-fetch", None, ValueError, "not an absolute http"),
        ("a", "ftp://example.org/data.csv", "F", None, ValueError, "URL"),
        ("a", "mailto:someone@example.org", "remote", None, ValueError, "URL"),
        ("a", b"x" * 10, MULTIPART, {"part_size": 0}, ValueError, "positive"),
        ("a", b"x" * 10, MULTIPART, {"part_size": -MIB}, ValueError, "positive"),
        ("a", b"x" * 10, MULTIPART, {"parts": 0}, ValueError, "positive"),
        ("a", b"x" * 10, MULTIPART, {"parts": -2}, ValueError, "positive"),
        ("a", b"x" * 10, MULTIPART, {"part_size": "big"}, TypeError, "integer"),
        ("a", b"x" * 10, "auto", {"part_size": 0}, ValueError, "positive"),
        ("a", b"x" * 10_001, MULTIPART, {"part_size": 1}, ValueError, "5 MiB"),
        ("a", b"x" * 5 * MIB, MULTIPART, {"part_size": 5 * MIB - 1}, ValueError, "5 MiB"),
        ("a", b"x" * 10_001, MULTIPART, {"parts": 10_001}, ValueError, "10000"),
        ("a", b"x" * 10, MULTIPART, {"parts": 3, "part_size": 6 * MIB}, ValueError, "do not describe"),
    ],
)
async def test_bad_upload_input_is_refused_before_any_request(
    quiet_client, draft, tmp_path, key, source, transfer_type, transfer_metadata, error, message
):
    if source == "DIRECTORY":
        source = str(tmp_path)
    elif source == "missing.csv":
        source = str(tmp_path / "missing.csv")
    with pytest.raises(error, match=message):
        await quiet_client.files.upload(draft, key, {}, source, transfer_type, transfer_metadata)
    assert no_request_was_sent(quiet_client)


@pytest.mark.parametrize(
    ("sources", "metadata", "transfer_type", "error", "message"),
    [
        ([("a", b"x")], None, "auto", TypeError, "mapping of keys"),
        ({"a": b"x"}, {"b": {"title": "B"}}, "auto", ValueError, "not uploaded: \\['b'\\]"),
        ({"a": b"x", "": b"y"}, None, "auto", ValueError, "cannot be empty"),
        ({"a": b"x", "b": "https://example.org/b.csv"}, None, "auto", ValueError, "is a URL"),
        ({"a": b"x"}, None, "url-fetch", ValueError, "local data"),
        ({"a": b"x"}, None, "carrier-pigeon", ValueError, "unknown transfer type"),
        ({"a": b"x", "b": "missing.csv"}, None, "auto", FileNotFoundError, "missing.csv"),
        ({"a": b"x", "b": None}, None, "auto", TypeError, "not NoneType"),
    ],
)
async def test_bad_input_to_upload_many_is_refused_before_any_request(
    quiet_client, draft, tmp_path, sources, metadata, transfer_type, error, message
):
    if isinstance(sources, dict) and sources.get("b") == "missing.csv":
        sources["b"] = str(tmp_path / "missing.csv")
    with pytest.raises(error, match=message):
        await quiet_client.files.upload_many(draft, sources, metadata, transfer_type)
    assert no_request_was_sent(quiet_client)


@pytest.mark.parametrize(
    "record",
    [
        "",
        "not a url/with a slash",
        "ftp://example.org/api/records/abc",
        "http://",
        "http://[::1",
        "http://exa mple.org/api/records/abc",
    ],
)
async def test_an_unusable_record_reference_is_refused_before_any_request(quiet_client, record):
    with pytest.raises(ValueError):
        await quiet_client.files.upload(record, "a.txt", {}, b"x")
    with pytest.raises(ValueError):
        await quiet_client.files.list(record)
    assert no_request_was_sent(quiet_client)


async def test_a_file_given_where_a_record_belongs_is_refused(client, quiet_client, draft):
    file = await client.files.upload(draft, "a.txt", {}, b"x")
    with pytest.raises(TypeError, match="got a File"):
        await quiet_client.files.upload(file, "b.txt", {}, b"y")
    assert no_request_was_sent(quiet_client)


# -- downloads ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["../escape.txt", "a/../../escape.txt", "/etc/escape.txt", "..", "a/b/../../../c"]
)
async def test_a_key_cannot_put_a_download_outside_the_directory(
    quiet_client, draft, tmp_path, key
):
    target = tmp_path / "downloads"
    target.mkdir()
    before = tree(tmp_path)
    with pytest.raises(ValueError, match="outside"):
        await quiet_client.files.download(draft, key, target)
    with pytest.raises(ValueError, match="outside"):
        await quiet_client.files.download(draft, key, f"{target}/")
    assert tree(tmp_path) == before
    assert no_request_was_sent(quiet_client)


async def test_a_file_entry_whose_key_escapes_is_refused_too(client, quiet_client, draft, tmp_path):
    import attrs

    file = await client.files.upload(draft, "fine.txt", {}, b"data")
    escaping = attrs.evolve(file, key="../../escape.txt")
    target = tmp_path / "deep" / "downloads"
    target.mkdir(parents=True)
    with pytest.raises(ValueError, match="outside"):
        await quiet_client.files.download(escaping, target)
    assert tree(tmp_path) == ["deep", "deep/downloads"]
    assert no_request_was_sent(quiet_client)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"part_size": 0}, ValueError),
        ({"part_size": -5}, ValueError),
        ({"part_size": 1000}, ValueError),
        ({"parts": 0}, ValueError),
        ({"parts": -1}, ValueError),
        ({"parts": 2.5}, TypeError),
    ],
)
async def test_bad_download_parts_are_refused_before_any_request(
    quiet_client, draft, options, error
):
    with pytest.raises(error):
        await quiet_client.files.download(draft, "a.txt", MemorySink(), **options)
    assert no_request_was_sent(quiet_client)


@pytest.mark.parametrize(
    "url",
    [
        "http://",
        "ftp://example.org/api/records/abc/files/a.txt",
        "just words",
        "http://[::1",
        "https://exa mple.org/api/records/abc/files/a.txt",
    ],
)
async def test_a_malformed_file_url_is_refused_before_any_request(quiet_client, url):
    with pytest.raises(ValueError, match="URL"):
        await quiet_client.files.download(url, MemorySink())
    with pytest.raises(ValueError, match="URL"):
        await quiet_client.files.read(url)
    assert no_request_was_sent(quiet_client)


async def test_a_file_of_another_record_is_refused_before_any_request(client, quiet_client):
    mine = await client.records.create({"metadata": {"title": "Mine"}})
    theirs = await client.records.create({"metadata": {"title": "Theirs"}})
    other = await client.files.upload(theirs, "a.txt", {}, b"not yours")

    with pytest.raises(ValueError, match="another record"):
        await quiet_client.files.download(mine, other, MemorySink())
    with pytest.raises(ValueError, match="another record"):
        await quiet_client.files.read(mine, other)
    with pytest.raises(ValueError, match="another record"):
        await quiet_client.files.delete(mine, other)
    assert no_request_was_sent(quiet_client)

    # nothing happened to either record
    assert [f.key for f in await client.files.list(theirs)] == ["a.txt"]
    with pytest.raises(DoesNotExistError):
        await client.files.read(mine, "a.txt")


async def test_a_file_over_the_configured_size_limit_is_refused_before_any_request(
    local_repository, tmp_path
):
    from nrpfiles.errors import LimitExceededError

    sent = []

    async def count(request):
        sent.append(request)

    async with AsyncClient(
        local_repository.url, token=local_repository.token, max_file_size=1000
    ) as client:
        draft = await client.records.create({"title": "Limited"})
        client._http._client.event_hooks["request"].append(count)
        with pytest.raises(LimitExceededError, match="1,000 bytes") as caught:
            await client.files.upload(draft, "big.bin", {}, b"x" * 1001)
        assert caught.value.limit == "file size" and caught.value.key == "big.bin"
        assert sent == []
        await client.files.upload(draft, "small.bin", {}, b"x" * 1000)
