"""File content: validators, conditional requests, ranges, and the storage redirect."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx
import pytest

from nrpfiles.testing import LocalRepository
from tests.servers import RepositoryUnderTest

from .conftest import OCTET, api_url, client_for, create_draft, published_record, upload

DATA = bytes(range(256)) * 4  # 1024 bytes
MD5 = hashlib.md5(DATA).hexdigest()
# what InvenioRDM's application sends with every answer, files included
SITE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "sameorigin",
    "Permissions-Policy": "interest-cohort=()",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def content_url(
    server: RepositoryUnderTest | LocalRepository, record: dict[str, Any], key: str = "data.bin"
) -> str:
    return f"{api_url(server)}/records/{record['id']}/files/{key}/content"


def stored(url: str, **kwargs: Any) -> httpx.Response:
    """The content's own answer: from the API, or from storage where the API redirects."""
    response = httpx.get(url)
    if response.status_code == 302:
        return httpx.get(response.headers["Location"], **kwargs)
    return httpx.get(url, **kwargs)


def test_content_headers(api: httpx.Client, repository: RepositoryUnderTest) -> None:
    record = published_record(api, {"data.bin": DATA})
    url = content_url(repository, record)
    response = httpx.get(url)
    for name, value in SITE_HEADERS.items():
        assert response.headers[name] == value
    assert response.headers["Content-Disposition"] == "attachment; filename=data.bin"
    assert response.headers["Content-Type"] == "application/octet-stream"
    if repository.storage == "s3":
        # a presigned URL on the storage, as the body too; the token must not follow
        assert response.status_code == 302
        location = response.headers["Location"]
        assert response.text == location and "X-Amz-Signature=" in location
        assert repository.token not in location
        assert httpx.head(url).status_code == 302
        from_storage = httpx.get(location)
        assert from_storage.status_code == 200 and from_storage.content == DATA
        assert from_storage.headers["ETag"] == f'"{MD5}"'  # the storage's bare md5
        assert from_storage.headers["Content-Type"] == "application/octet-stream"
        assert httpx.head(location).status_code == 403  # signed for GET only
        return
    assert response.status_code == 200 and response.content == DATA
    assert response.headers["Content-Length"] == "1024"
    assert response.headers["ETag"] == f'"md5:{MD5}"'
    assert response.headers["Content-MD5"] == MD5
    assert response.headers["Last-Modified"].endswith("GMT")
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Download-Options"] == "noopen"
    assert response.headers["X-Permitted-Cross-Domain-Policies"] == "none"
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == "1024"


def test_ranges_where_the_server_honours_them(
    api: httpx.Client, repository: RepositoryUnderTest
) -> None:
    """InvenioRDM leaves FILES_REST_ALLOW_RANGE_REQUESTS off; S3 storage honours ranges."""
    url = content_url(repository, published_record(api, {"data.bin": DATA}))
    response = stored(url, headers={"Range": "bytes=0-9"})
    if repository.ranges:
        assert response.status_code == 206 and response.content == DATA[:10]
        assert response.headers["Content-Range"] == "bytes 0-9/1024"
        return
    assert response.status_code == 200 and response.content == DATA
    assert "Accept-Ranges" not in response.headers
    assert "Accept-Ranges" not in httpx.head(url).headers


def test_ranges(local_repository_factory: Any) -> None:
    repo = local_repository_factory(ranges=True)
    with client_for(repo) as api:
        url = content_url(repo, published_record(api, {"data.bin": DATA}))
    assert httpx.head(url).headers["Accept-Ranges"] == "bytes"
    part = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == DATA[10:20]
    assert part.headers["Content-Range"] == "bytes 10-19/1024"
    assert part.headers["Content-Length"] == "10"
    open_ended = httpx.get(url, headers={"Range": "bytes=1000-"})
    assert open_ended.content == DATA[1000:]
    clipped = httpx.get(url, headers={"Range": "bytes=1000-5000"})
    assert clipped.headers["Content-Range"] == "bytes 1000-1023/1024"
    suffix = httpx.get(url, headers={"Range": "bytes=-24"})
    assert suffix.status_code == 206 and suffix.content == DATA[-24:]
    unsatisfiable = httpx.get(url, headers={"Range": "bytes=2000-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["Content-Range"] == "bytes */1024"
    several = httpx.get(url, headers={"Range": "bytes=0-1,5-6"})
    assert several.status_code == 200 and several.content == DATA
    etag = part.headers["ETag"]
    same = httpx.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert same.status_code == 206
    changed = httpx.get(url, headers={"Range": "bytes=0-9", "If-Range": '"md5:other"'})
    assert changed.status_code == 200
    stale = httpx.get(url, headers={"If-Match": '"md5:0000"', "Range": "bytes=0-1"})
    assert stale.status_code == 412


@pytest.mark.parametrize(
    ("key", "content_type", "disposition"),
    [
        ("notes.txt", "text/plain; charset=utf-8", "inline"),
        ("data.json", "text/plain; charset=utf-8", "inline"),
        ("table.csv", "text/plain; charset=utf-8", "inline"),
        ("page.html", "text/plain; charset=utf-8", "inline"),
        ("doc.xml", "text/plain; charset=utf-8", "inline"),
        ("README", "text/plain; charset=utf-8", "inline"),
        ("photo.png", "image/png", "inline"),
        ("paper.pdf", "application/octet-stream", "attachment; filename=paper.pdf"),
        ("my file.zip", "application/octet-stream", 'attachment; filename="my file.zip"'),
        (
            "d\u00fcrer.bin",
            "application/octet-stream",
            "attachment; filename=durer.bin; filename*=UTF-8''d%C3%BCrer.bin",
        ),
    ],
)
def test_content_types_are_sanitized(
    api: httpx.Client,
    repository: RepositoryUnderTest,
    key: str,
    content_type: str,
    disposition: str,
) -> None:
    """As invenio-files-rest serves user files: nothing a browser would render or run.

    The API's answer says so, whether it sends the content or redirects to storage.
    """
    record = published_record(api, {key: b"<b>hi</b>"})
    response = httpx.get(content_url(repository, record, key))
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Content-Disposition"] == disposition


def test_conditional_requests(api: httpx.Client, repository: RepositoryUnderTest) -> None:
    url = content_url(repository, published_record(api, {"data.bin": DATA}))
    if repository.storage == "s3":
        url = httpx.get(url).headers["Location"]  # the storage answers these
    first = httpx.get(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    not_modified = httpx.get(url, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["ETag"] == etag
    assert httpx.get(url, headers={"If-None-Match": '"md5:x"'}).status_code == 200
    assert httpx.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert httpx.get(url, headers={"If-Modified-Since": old}).status_code == 200
    assert httpx.get(url, headers={"If-Match": etag}).status_code == 200
    stale = httpx.get(url, headers={"If-Match": '"md5:0000"', "Range": "bytes=0-1"})
    assert stale.status_code == 412
    if repository.storage == "file":
        # werkzeug says 412 and sends the whole file all the same
        assert stale.content == DATA
        assert httpx.get(url, headers={"If-Match": "*"}).status_code == 412


def test_storage_redirect(local_repository_factory: Any) -> None:
    """Downloads redirect to a storage that answers as S3 does behind a presigned URL."""
    repo = local_repository_factory(storage_redirect=True)
    with client_for(repo) as api:
        record = published_record(api, {"dir/data.bin": DATA})
        redirect = api.get(f"/records/{record['id']}/files/dir/data.bin/content")
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    assert redirect.text == location
    assert repo.storage_url is not None and location.startswith(repo.storage_url)
    assert httpx.URL(location).port != httpx.URL(repo.url).port
    assert repo.token not in location
    stored = httpx.get(location)
    assert stored.status_code == 200 and stored.content == DATA
    assert stored.headers["ETag"] == f'"{hashlib.md5(DATA).hexdigest()}"'  # S3's bare md5
    ranged = httpx.get(location, headers={"Range": "bytes=-4"})  # storage honours ranges
    assert ranged.status_code == 206 and ranged.content == DATA[-4:]
    assert httpx.head(location).status_code == 403  # signed for GET only
    assert repo.token_violations == 0
    with_token = httpx.get(location, headers={"Authorization": f"Bearer {repo.token}"})
    assert with_token.status_code == 400
    assert "<Code>InvalidArgument</Code>" in with_token.text
    assert httpx.get(location + f"&access_token={repo.token}").status_code == 400
    assert repo.token_violations == 2
    tampered = httpx.get(location.replace("signature=", "signature=0"))
    assert tampered.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in tampered.text
    followed = httpx.get(content_url(repo, record, "dir/data.bin"), follow_redirects=True)
    assert followed.content == DATA


def test_expired_storage_url(local_repository_factory: Any, monkeypatch: Any) -> None:
    repo = local_repository_factory(storage_redirect=True)
    with client_for(repo) as api:
        record = published_record(api, {"data.bin": DATA})
        location = api.get(f"/records/{record['id']}/files/data.bin/content").headers["Location"]
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    expired = httpx.get(location)
    assert expired.status_code == 403
    assert "<Code>AccessDenied</Code><Message>Request has expired</Message>" in expired.text


def test_draft_content_needs_owner(api: httpx.Client, anonymous: httpx.Client) -> None:
    draft = create_draft(api)
    upload(api, draft["id"], "a.txt", b"draft bytes")
    url = f"/records/{draft['id']}/draft/files/a.txt/content"
    assert api.get(url, follow_redirects=True).content == b"draft bytes"
    assert anonymous.get(url).status_code == 403


def test_pending_content_is_not_readable(api: httpx.Client) -> None:
    draft = create_draft(api)
    base = f"/records/{draft['id']}/draft/files"
    api.post(base, json=[{"key": "pending.txt"}])
    api.put(f"{base}/pending.txt/content", content=b"staged", headers=OCTET)
    # a local file with no object yet fails inside InvenioRDM: a bare 500
    refused = api.get(f"{base}/pending.txt/content")
    assert refused.status_code == 500
    multipart = {"key": "m.bin", "size": 10, "transfer": {"type": "M", "parts": 2, "part_size": 5}}
    api.post(base, json=[multipart])
    refused = api.get(f"{base}/m.bin/content")
    assert refused.status_code == 403
    assert refused.json() == {"status": 403, "message": "Permission denied."}
