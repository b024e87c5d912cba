"""Faults on demand: deterministic, switchable while running, also over HTTP."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx
import pytest

from nrpfiles.testing import LocalRepository

from .conftest import OCTET, client_for, create_draft, published_record


def statuses(api: httpx.Client, count: int) -> list[int]:
    return [api.get("/records").status_code for _ in range(count)]


def test_error_rate_is_deterministic(local_api: httpx.Client, repo: LocalRepository) -> None:
    api = local_api
    repo.faults.configure(seed=7, error_rate=0.5)
    first = statuses(api, 30)
    assert set(first) == {200, 503}
    repo.faults.configure(seed=7, error_rate=0.5)
    assert statuses(api, 30) == first
    assert repo.faults.injected["503"] == first.count(503)
    repo.faults.clear()
    assert statuses(api, 5) == [200] * 5
    assert repo.faults.injected == {}


def test_503_body_and_retry_after(local_api: httpx.Client, repo: LocalRepository) -> None:
    api = local_api
    repo.faults.configure(error_rate=1.0, retry_after=3)
    response = api.get("/records")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "3"
    assert response.json()["status"] == 503


def test_429_carries_retry_after(local_api: httpx.Client, repo: LocalRepository) -> None:
    api = local_api
    repo.faults.configure(error_rate=1.0, error_status=429, retry_after=2)
    response = api.post("/records", json={"metadata": {}})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    body = response.json()
    assert body["status"] == 429 and body["message"]
    assert repo.faults.injected == {"429": 1}
    repo.faults.clear()
    assert api.get("/user/records").json()["hits"]["total"] == 0  # the faulted create left nothing


def test_paths_filter(local_api: httpx.Client, repo: LocalRepository) -> None:
    api = local_api
    draft = create_draft(api)
    repo.faults.configure(error_rate=1.0, paths=r"/files")
    assert api.get(f"/records/{draft['id']}/draft").status_code == 200
    assert api.get(f"/records/{draft['id']}/draft/files").status_code == 503


def test_cut_download(local_repository_factory: Any) -> None:
    repo = local_repository_factory(ranges=True)  # resuming needs ranges
    with client_for(repo) as api:
        data = bytes(range(256)) * 400  # 102400 bytes
        record = published_record(api, {"data.bin": data})
        url = f"/records/{record['id']}/files/data.bin/content"
        repo.faults.configure(cut_after_bytes=40_000)
        received = bytearray()
        with pytest.raises(httpx.RemoteProtocolError), api.stream("GET", url) as response:
            assert response.status_code == 200
            for chunk in response.iter_raw():
                received += chunk
        assert bytes(received) == data[:40_000]
        # resuming from where it was cut meets a cut again after at most K more bytes
        while len(received) < len(data):
            headers = {"Range": f"bytes={len(received)}-"}
            try:
                with api.stream("GET", url, headers=headers) as response:
                    for chunk in response.iter_raw():
                        received += chunk
            except httpx.RemoteProtocolError:
                pass
        assert bytes(received) == data
        assert repo.faults.injected["cut"] == 2
        assert api.get(f"/records/{record['id']}").status_code == 200  # small bodies pass


def test_cut_rate_is_a_probability(local_api: httpx.Client, repo: LocalRepository) -> None:
    api = local_api
    record = published_record(api, {"data.bin": b"x" * 1000})
    url = f"/records/{record['id']}/files/data.bin/content"
    repo.faults.configure(seed=3, cut_after_bytes=100, cut_rate=0.5)
    outcomes = []
    for _ in range(20):
        try:
            outcomes.append(len(api.get(url).content))
        except httpx.RemoteProtocolError:
            outcomes.append(-1)
    assert set(outcomes) == {1000, -1}
    assert repo.faults.injected["cut"] == outcomes.count(-1)


def test_a_cut_upload_deletes_the_entry(local_api: httpx.Client, repo: LocalRepository) -> None:
    api = local_api
    """InvenioRDM drops an entry whose upload broke off; so does the cut."""
    draft = create_draft(api)
    base = f"/records/{draft['id']}/draft/files"
    api.post(base, json=[{"key": "a.bin"}])
    repo.faults.configure(cut_after_bytes=1000, paths="/content")
    with pytest.raises(httpx.TransportError):
        api.put(f"{base}/a.bin/content", content=b"y" * 5000, headers=OCTET)
    repo.faults.clear()
    assert api.get(f"{base}/a.bin").status_code == 404
    assert list((repo.data_dir / "tmp").iterdir()) == []


def test_a_cut_upload_can_keep_its_entry(local_repository_factory: Any) -> None:
    repo = local_repository_factory(cut_upload_deletes_entry=False)
    with client_for(repo) as api:
        draft = create_draft(api)
        base = f"/records/{draft['id']}/draft/files"
        api.post(base, json=[{"key": "a.bin"}])
        repo.faults.configure(cut_after_bytes=1000, paths="/content")
        with pytest.raises(httpx.TransportError):
            api.put(f"{base}/a.bin/content", content=b"y" * 5000, headers=OCTET)
        repo.faults.clear()
        entry = api.get(f"{base}/a.bin").json()
        assert entry["status"] == "pending" and "checksum" not in entry
        assert api.post(f"{base}/a.bin/commit").status_code == 500  # nothing was stored
        assert list((repo.data_dir / "tmp").iterdir()) == []


def test_a_cut_part_keeps_the_entry(local_api: httpx.Client, repo: LocalRepository) -> None:
    api = local_api
    draft = create_draft(api)
    base = f"/records/{draft['id']}/draft/files"
    init = {"key": "m", "size": 5000, "transfer": {"type": "M", "parts": 1, "part_size": 5000}}
    api.post(base, json=[init])
    repo.faults.configure(cut_after_bytes=1000, paths="/content/1")
    with pytest.raises(httpx.TransportError):
        api.put(f"{base}/m/content/1", content=b"y" * 5000, headers=OCTET)
    repo.faults.clear()
    assert api.get(f"{base}/m").json()["status"] == "pending"
    assert api.put(f"{base}/m/content/1", content=b"z" * 5000, headers=OCTET).is_success


def test_delay(local_api: httpx.Client, repo: LocalRepository) -> None:
    api = local_api
    repo.faults.configure(delay=0.01)
    assert statuses(api, 3) == [200, 200, 200]
    assert repo.faults.injected == {"delay": 3}


def test_a_request_given_up_on_is_still_carried_out_and_waited_for(
    local_api: httpx.Client, repo: LocalRepository
) -> None:
    draft = create_draft(local_api)
    base = f"/records/{draft['id']}/draft/files"
    local_api.post(base, json=[{"key": "a"}])
    repo.faults.configure(delay=0.5, paths=r"/content$")
    began = time.monotonic()
    with pytest.raises(httpx.TimeoutException):  # the client gives up at once
        local_api.put(f"{base}/a/content", content=b"abcd", headers=OCTET, timeout=0.05)
    with pytest.raises(TimeoutError):
        repo.wait_until_idle(timeout=0.01)
    repo.wait_until_idle()
    assert time.monotonic() - began >= 0.5  # not before the delayed upload was handled
    repo.faults.clear()
    committed = local_api.post(f"{base}/a/commit")  # the bytes arrived all the same
    assert committed.status_code == 200
    assert committed.json()["size"] == 4


def test_refused_multipart_parts(local_api: httpx.Client, repo: LocalRepository) -> None:
    api = local_api
    draft = create_draft(api)
    base = f"/records/{draft['id']}/draft/files"
    init = {"key": "m", "size": 4, "transfer": {"type": "M", "parts": 1, "part_size": 4}}
    assert api.post(base, json=[init]).status_code == 201  # accepted at init, as Zenodo does
    repo.faults.configure(refuse_multipart_parts=True)
    refused = api.put(f"{base}/m/content/1", content=b"abcd", headers=OCTET)
    assert refused.status_code == 403
    assert refused.json() == {"status": 403, "message": "Permission denied."}
    assert repo.faults.injected == {"refused_part": 1}
    # the local transfer still works: that is the fallback a client takes
    api.post(base, json=[{"key": "l"}])
    assert api.put(f"{base}/l/content", content=b"abcd", headers=OCTET).status_code == 200


def test_admin_endpoint(repo: LocalRepository) -> None:
    admin = f"{repo.url}/_local/faults"
    assert httpx.get(admin).status_code == 403
    with client_for(repo, repo.add_user("someone")) as other:
        assert other.post(admin, json={"error_rate": 1.0}).status_code == 403
    with client_for(repo) as api:
        switched = api.post(admin, json={"error_rate": 1.0, "error_status": 429, "retry_after": 5})
        assert switched.status_code == 200
        assert switched.json()["config"]["error_status"] == 429
        assert api.get("/records").status_code == 429
        state = api.get(admin).json()  # never faulted itself
        assert state["injected"] == {"429": 1} and state["token_violations"] == 0
        assert api.post(admin, json={"bogus": 1}).status_code == 400
        assert api.post(admin, json={"error_rate": 2}).status_code == 400
        assert api.delete(admin).status_code == 204
        assert api.get("/records").status_code == 200
        created = api.post(f"{repo.url}/_local/users", json={"name": "carol"})
        assert created.status_code == 201
        assert client_for(repo, created.json()["token"]).get("/user/records").status_code == 200
        create_draft(api)
        assert api.post(f"{repo.url}/_local/reset").status_code == 204
        assert api.get("/user/records").json()["hits"]["total"] == 0


def test_storage_server_is_faulted_too(local_repository_factory: Any) -> None:
    repo = local_repository_factory(storage_redirect=True)
    with client_for(repo) as api:
        record = published_record(api, {"data.bin": b"z" * 10_000})
        location = api.get(f"/records/{record['id']}/files/data.bin/content").headers["Location"]
    repo.faults.configure(cut_after_bytes=1000, paths="^/objects/")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(location)
    assert repo.faults.injected["cut"] == 1


def test_keep_alive_survives_errors(repo: LocalRepository) -> None:
    """Several answers, errors included, over one connection."""
    host, port = repo.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as connection:
        request = (
            f"GET /api/records HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"
            f"GET /api/nothing HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"
        ).encode()
        connection.sendall(request)
        received = b""
        while received.count(b"HTTP/1.1 ") < 2 or not received.endswith(b"}"):
            received += connection.recv(65536)
    assert received.startswith(b"HTTP/1.1 200")
    assert b"HTTP/1.1 404" in received
