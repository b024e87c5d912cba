"""File content: validators, conditional requests, ranges, and the storage redirect."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from nrpfiles.testing import LocalRepository

from .conftest import client_for, published_record

DATA = bytes(range(256)) * 4  # 1024 bytes


def content_url(repo: LocalRepository, record: dict[str, Any], key: str = "data.bin") -> str:
    return f"{repo.api_url}/records/{record['id']}/files/{key}/content"


def test_content_headers(api: httpx.Client, repo: LocalRepository) -> None:
    record = published_record(api, {"data.bin": DATA})
    url = content_url(repo, record)
    response = httpx.get(url)
    md5 = hashlib.md5(DATA).hexdigest()
    assert response.status_code == 200 and response.content == DATA
    assert response.headers["Content-Length"] == "1024"
    assert response.headers["ETag"] == f'"md5:{md5}"'
    assert response.headers["Content-MD5"] == md5
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Last-Modified"].endswith("GMT")
    assert response.headers["Content-Disposition"] == 'attachment; filename="data.bin"'
    assert response.headers["Content-Type"] == "application/octet-stream"
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == "1024"
    assert head.headers["Accept-Ranges"] == "bytes"


def test_ranges(api: httpx.Client, repo: LocalRepository) -> None:
    url = content_url(repo, published_record(api, {"data.bin": DATA}))
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


def test_conditional_requests(api: httpx.Client, repo: LocalRepository) -> None:
    url = content_url(repo, published_record(api, {"data.bin": DATA}))
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


def test_ranges_switched_off(local_repository_factory: Any) -> None:
    repo = local_repository_factory(ranges=False)
    with client_for(repo) as api:
        url = content_url(repo, published_record(api, {"data.bin": DATA}))
    response = httpx.get(url, headers={"Range": "bytes=0-9"})
    assert response.status_code == 200 and response.content == DATA
    assert "Accept-Ranges" not in response.headers
    assert "Accept-Ranges" not in httpx.head(url).headers


def test_storage_redirect(local_repository_factory: Any) -> None:
    repo = local_repository_factory(storage_redirect=True)
    with client_for(repo) as api:
        record = published_record(api, {"dir/data.bin": DATA})
        redirect = api.get(f"/records/{record['id']}/files/dir/data.bin/content")
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    assert repo.storage_url is not None and location.startswith(repo.storage_url)
    assert httpx.URL(location).port != httpx.URL(repo.url).port
    assert repo.token not in location
    stored = httpx.get(location)
    assert stored.status_code == 200 and stored.content == DATA
    assert stored.headers["ETag"] == f'"md5:{hashlib.md5(DATA).hexdigest()}"'
    ranged = httpx.get(location, headers={"Range": "bytes=-4"})
    assert ranged.status_code == 206 and ranged.content == DATA[-4:]
    assert repo.token_violations == 0
    with_token = httpx.get(location, headers={"Authorization": f"Bearer {repo.token}"})
    assert with_token.status_code == 400
    assert httpx.get(location + f"&access_token={repo.token}").status_code == 400
    assert repo.token_violations == 2
    tampered = location.replace("signature=", "signature=0")
    assert httpx.get(tampered).status_code == 403
    followed = httpx.get(content_url(repo, record, "dir/data.bin"), follow_redirects=True)
    assert followed.content == DATA


def test_draft_content_needs_owner(api: httpx.Client, anonymous: httpx.Client) -> None:
    from .conftest import create_draft, upload

    draft = create_draft(api)
    upload(api, draft["id"], "a.txt", b"draft bytes")
    url = f"/records/{draft['id']}/draft/files/a.txt/content"
    assert api.get(url).content == b"draft bytes"
    assert anonymous.get(url).status_code == 401
    api.post(f"/records/{draft['id']}/draft/files", json=[{"key": "pending.txt"}])
    assert api.get(f"/records/{draft['id']}/draft/files/pending.txt/content").status_code == 404
