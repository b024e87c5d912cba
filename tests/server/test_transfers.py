"""Multipart, url-fetch and remote transfers, and the checksum a worker computes."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from nrpfiles.testing import LocalRepository
from tests.servers import RepositoryUnderTest

from .conftest import (
    OCTET,
    api_url,
    client_for,
    create_draft,
    files_url,
    upload,
)

MIB = 1 << 20
TRANSFER_FAILED = "File upload transfer failed."


def wait_for(api: httpx.Client, url: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        entry = dict(api.get(url).json())
        if done(entry):
            return entry
        time.sleep(0.02)
    raise AssertionError(f"{url} never got there")


def wait_for_status(api: httpx.Client, url: str, wanted: set[str]) -> dict[str, Any]:
    return wait_for(api, url, lambda entry: entry["status"] in wanted)


@pytest.fixture
def all_transfers(local_repository_factory: Any) -> Iterator[httpx.Client]:
    """A repository whose users may create every transfer type from loopback sources."""
    repo = local_repository_factory(
        transfers=("L", "M", "F", "R"), fetch_allowed_domains=("127.0.0.1",)
    )
    with client_for(repo) as client:
        yield client


def multipart_init(key: str, size: int, parts: int, part_size: int) -> dict[str, Any]:
    return {
        "key": key,
        "size": size,
        "transfer": {"type": "M", "parts": parts, "part_size": part_size},
    }


def put_part(api: httpx.Client, url: str, chunk: bytes) -> httpx.Response:
    """A part goes to the API with the token, or to storage on a presigned URL without it."""
    if url.startswith(str(api.base_url)):
        return api.put(url, content=chunk, headers=OCTET)
    return httpx.put(url, content=chunk)


def s3_checksum(data: bytes, part_size: int) -> str:
    """What InvenioRDM reports for a multipart upload to S3 until a worker computes the md5."""
    parts = [data[i : i + part_size] for i in range(0, len(data), part_size)]
    etag = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f"multipart:{etag}-{len(parts)}-{part_size}"


def test_multipart_transfer(api: httpx.Client, repository: RepositoryUnderTest) -> None:
    draft = create_draft(api)
    base = files_url(draft["id"])
    part_size = 5 * MIB  # the smallest S3 takes for all but the last part
    data = bytes(range(256)) * (part_size // 128 + 8)  # two whole parts and a short one
    init = api.post(base, json=[multipart_init("big.bin", len(data), 3, part_size)])
    assert init.status_code == 201
    (entry,) = init.json()["entries"]
    assert entry["status"] == "pending"
    assert entry["transfer"] == {"type": "M", "parts": 3, "part_size": part_size}
    assert entry["checksum"] is None and entry["size"] == len(data)
    assert "content" not in entry["links"]
    parts = entry["links"]["parts"]
    assert [p["part"] for p in parts] == [1, 2, 3]
    if repository.storage == "s3":  # presigned URLs on the storage
        assert "X-Amz-Signature=" in parts[0]["url"] and parts[0]["expiration"].endswith("Z")
    else:  # API endpoints
        assert parts[0]["url"] == f"{api_url(repository)}{base}/big.bin/content/1"
        assert parts[0]["expiration"].endswith("+00:00")
    for number in (3, 1, 2):
        chunk = data[(number - 1) * part_size : number * part_size]
        assert put_part(api, parts[number - 1]["url"], chunk).status_code == 200
    committed = api.post(f"{base}/big.bin/commit").json()
    assert committed["status"] == "completed"
    assert committed["transfer"] == {"type": "L"}
    assert committed["size"] == len(data)
    assert "parts" not in committed["links"]
    md5 = "md5:" + hashlib.md5(data).hexdigest()
    if repository.storage == "s3":
        # the storage's composite ETag, until a worker (busy here) computes the md5
        assert committed["checksum"] == s3_checksum(data, part_size)
        return
    # on a file store a background task computes it; a busy worker leaves it null
    assert committed["checksum"] in (None, md5)
    content = api.get(f"{base}/big.bin/content")
    assert content.content == data
    assert content.headers.get("ETag") in (None, f'"{md5}"')
    done = wait_for(api, f"{base}/big.bin", lambda e: e["checksum"] is not None)
    assert done["checksum"] == md5
    record = api.get(f"/records/{draft['id']}/draft").json()
    assert record["files"]["entries"]["big.bin"]["checksum"] == done["checksum"]


def test_the_local_repository_computes_the_checksum_after_the_commit(
    local_api: httpx.Client,
) -> None:
    """As behind a busy worker, which the default checksum delay stands for."""
    draft = create_draft(local_api)
    base = files_url(draft["id"])
    local_api.post(base, json=[multipart_init("m", 3, 1, 3)])
    local_api.put(f"{base}/m/content/1", content=b"abc", headers=OCTET)
    committed = local_api.post(f"{base}/m/commit").json()
    assert committed["checksum"] is None
    assert "ETag" not in local_api.get(f"{base}/m/content").headers


def test_failed_parts_answer_200_and_keep_the_entry(
    api: httpx.Client, repository: RepositoryUnderTest
) -> None:
    draft = create_draft(api)
    base = files_url(draft["id"])
    api.post(base, json=[multipart_init("m.bin", 10, 2, 5)])
    if repository.storage == "s3":
        # parts go to the storage, which counts them: the commit fails, the entry stays
        parts = api.get(f"{base}/m.bin").json()["links"]["parts"]
        assert put_part(api, parts[1]["url"], b"67890").status_code == 200
        assert api.post(f"{base}/m.bin/commit").status_code == 500
        assert api.get(f"{base}/m.bin").json()["status"] == "pending"
        return
    for url, body in ((f"{base}/m.bin/content/1", b"123"), (f"{base}/m.bin/content/3", b"1")):
        failed = api.put(url, content=body, headers=OCTET)
        assert failed.status_code == 200
        assert failed.json()["errors"] == TRANSFER_FAILED
        assert failed.json()["status"] == "pending"
    assert api.get(f"{base}/m.bin").json()["status"] == "pending"
    # nothing counts the parts: what never came stays zeros, and the commit goes through
    assert api.put(f"{base}/m.bin/content/2", content=b"67890", headers=OCTET).status_code == 200
    committed = api.post(f"{base}/m.bin/commit")
    assert committed.status_code == 200 and committed.json()["size"] == 10
    assert api.get(f"{base}/m.bin/content").content == b"\0" * 5 + b"67890"


def test_multipart_init_checks_and_abort(
    api: httpx.Client, repository: RepositoryUnderTest
) -> None:
    draft = create_draft(api)
    base = files_url(draft["id"])
    no_size = api.post(
        base, json=[{"key": "m", "transfer": {"type": "M", "parts": 2, "part_size": 5}}]
    )
    assert no_size.json() == {
        "status": 400,
        "message": "Multipart file transfer requires file size.",
    }
    no_parts = api.post(base, json=[multipart_init("m", 10, 0, 5)])
    assert no_parts.json() == {"status": 400, "message": "Multipart file transfer requires parts."}
    no_part_size = api.post(
        base, json=[{"key": "m", "size": 10, "transfer": {"type": "M", "parts": 2}}]
    )
    if repository.storage == "s3":
        assert no_part_size.status_code == 201  # S3 takes it, and makes a checksum of None
        assert api.delete(f"{base}/m").status_code == 204
    else:
        assert no_part_size.json() == {
            "status": 400,
            "message": "Multipart file transfer to local storage requires part_size.",
        }
    assert api.post(base, json=[multipart_init("m", 10, 2, 5)]).status_code == 201
    put_part(api, api.get(f"{base}/m").json()["links"]["parts"][0]["url"], b"12345")
    assert api.delete(f"{base}/m").status_code == 204  # an abort
    assert api.get(f"{base}/m").status_code == 404
    # the whole content of a multipart file is not taken: that fails it, and it is deleted
    api.post(base, json=[multipart_init("m", 10, 2, 5)])
    whole = api.put(f"{base}/m/content", content=b"x", headers=OCTET)
    assert whole.status_code == 200 and whole.json()["errors"] == TRANSFER_FAILED
    assert api.get(f"{base}/m").status_code == 404
    if repository.storage == "s3":
        return
    # on a file store size, parts and part size need not agree: the last part is written
    # where it starts
    assert api.post(base, json=[multipart_init("odd", 100, 2, 5)]).status_code == 201
    assert api.put(f"{base}/odd/content/2", content=b"tail", headers=OCTET).status_code == 200
    assert api.post(f"{base}/odd/commit").json()["size"] == 100
    assert api.get(f"{base}/odd/content").content == b"\0" * 5 + b"tail" + b"\0" * 91
    local = upload(api, draft["id"], "l.txt", b"l")
    to_local = api.put(f"{local['links']['self']}/content/1", content=b"x", headers=OCTET)
    assert to_local.json() == {
        "status": 400,
        "message": 'Transfer type "L" does not support multipart uploads.',
    }


def test_checksum_delay(local_repository_factory: Any) -> None:
    repo = local_repository_factory(checksum_delay=0)
    with client_for(repo) as api:
        draft = create_draft(api)
        base = files_url(draft["id"])
        api.post(base, json=[multipart_init("m", 3, 1, 3)])
        api.put(f"{base}/m/content/1", content=b"abc", headers=OCTET)
        committed = api.post(f"{base}/m/commit").json()
        assert committed["checksum"] == "md5:" + hashlib.md5(b"abc").hexdigest()


def test_a_pending_checksum_survives_a_restart(tmp_path: Any) -> None:
    with LocalRepository(data_dir=tmp_path, checksum_delay=60) as repo, client_for(repo) as api:
        draft = create_draft(api)
        base = files_url(draft["id"])
        api.post(base, json=[multipart_init("m", 3, 1, 3)])
        api.put(f"{base}/m/content/1", content=b"abc", headers=OCTET)
        assert api.post(f"{base}/m/commit").json()["checksum"] is None
    with LocalRepository(data_dir=tmp_path, checksum_delay=0.01) as repo, client_for(repo) as api:
        done = wait_for(api, f"{base}/m", lambda e: e["checksum"] is not None)
        assert done["checksum"] == "md5:" + hashlib.md5(b"abc").hexdigest()


class _Source(BaseHTTPRequestHandler):
    """A url-fetch source that holds its answer until the test releases it."""

    release = threading.Event()
    seen_authorization: list[str] = []

    def do_GET(self) -> None:
        if self.headers.get("Authorization"):
            self.seen_authorization.append(self.headers["Authorization"])
        if self.path == "/missing":
            body = b"no such thing"
            self.send_response(404)
        else:
            self.release.wait(20)
            body = b"fetched content"
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def source() -> Iterator[str]:
    _Source.release = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Source)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _Source.release.set()
    server.shutdown()
    server.server_close()


def test_fetch_transfer(all_transfers: httpx.Client, source: str) -> None:
    api = all_transfers
    draft = create_draft(api)
    base = files_url(draft["id"])
    init = api.post(
        base, json=[{"key": "f.txt", "transfer": {"type": "F", "url": f"{source}/file"}}]
    )
    assert init.status_code == 201
    (entry,) = init.json()["entries"]
    assert entry["status"] == "pending" and entry["transfer"] == {"type": "F"}
    assert source not in init.text  # the url is never echoed
    refused = api.post(f"/records/{draft['id']}/draft/actions/publish")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "files"
    _Source.release.set()
    done = wait_for_status(api, f"{base}/f.txt", {"completed", "failed"})
    assert done["status"] == "completed" and done["transfer"] == {"type": "L"}
    assert done["checksum"] == "md5:" + hashlib.md5(b"fetched content").hexdigest()
    assert api.get(f"{base}/f.txt/content").content == b"fetched content"
    assert _Source.seen_authorization == []
    assert api.post(f"/records/{draft['id']}/draft/actions/publish").status_code == 202


def test_fetch_failure_and_allow_list(all_transfers: httpx.Client, source: str) -> None:
    api = all_transfers
    draft = create_draft(api)
    base = files_url(draft["id"])
    api.post(base, json=[{"key": "gone", "transfer": {"type": "F", "url": f"{source}/missing"}}])
    failed = wait_for_status(api, f"{base}/gone", {"completed", "failed"})
    assert failed["status"] == "failed"
    assert failed["transfer"] == {"type": "F", "error": "no such thing"}
    elsewhere = api.post(
        base, json=[{"key": "x", "transfer": {"type": "F", "url": "https://example.org/x"}}]
    )
    assert elsewhere.status_code == 400
    assert elsewhere.json()["errors"] == [
        {"field": "0.transfer.url", "messages": ["Domain not allowed"]}
    ]


def test_remote_transfer(all_transfers: httpx.Client) -> None:
    api = all_transfers
    draft = create_draft(api)
    base = files_url(draft["id"])
    target = f"{str(api.base_url).removesuffix('/api/')}/somewhere/file.bin"
    init = api.post(
        base,
        json=[
            {
                "key": "r.bin",
                "size": 3,
                "checksum": "md5:abc",
                "transfer": {"type": "R", "url": target},
            }
        ],
    )
    (entry,) = init.json()["entries"]
    assert entry["status"] == "completed" and entry["transfer"] == {"type": "R"}
    assert entry["size"] == 3 and entry["checksum"] == "md5:abc"
    redirect = api.get(f"{base}/r.bin/content")
    assert redirect.status_code == 302 and redirect.headers["Location"] == target
    record = api.post(f"/records/{draft['id']}/draft/actions/publish")
    assert record.status_code == 202


def test_no_url_fetch_or_remote_source_is_allowed(api: httpx.Client, source: str) -> None:
    """InvenioRDM's allow lists are empty unless a site fills them: every domain is refused."""
    draft = create_draft(api)
    base = files_url(draft["id"])
    for transfer in (
        {"type": "F", "url": f"{source}/file"},
        {"type": "F", "url": "https://example.org/x"},
        {"type": "R", "url": source},
    ):
        refused = api.post(base, json=[{"key": "x", "transfer": transfer}])
        assert refused.status_code == 400
        assert refused.json()["errors"] == [
            {"field": "0.transfer.url", "messages": ["Domain not allowed"]}
        ]
    assert api.get(base).json()["entries"] == []


def test_users_get_local_and_multipart_only(local_repository_factory: Any, source: str) -> None:
    """Where the domain is allowed, an ordinary user is still refused F and R."""
    repo = local_repository_factory(fetch_allowed_domains=("127.0.0.1",))
    with client_for(repo) as api:
        draft = create_draft(api)
        base = files_url(draft["id"])
        for transfer in ({"type": "F", "url": f"{source}/file"}, {"type": "R", "url": source}):
            refused = api.post(base, json=[{"key": "x", "transfer": transfer}])
            assert refused.status_code == 403
            assert refused.json() == {"status": 403, "message": "Permission denied."}
        # the url is checked before the permission is, as InvenioRDM's schema does
        elsewhere = {"type": "F", "url": "https://example.org/x"}
        assert api.post(base, json=[{"key": "x", "transfer": elsewhere}]).status_code == 400
        assert api.get(base).json()["entries"] == []


def test_transfers_are_configurable(local_repository_factory: Any) -> None:
    repo = local_repository_factory(transfers=("L",))
    with client_for(repo) as api:
        draft = create_draft(api)
        denied = api.post(files_url(draft["id"]), json=[multipart_init("m", 5, 1, 5)])
        assert denied.status_code == 403
