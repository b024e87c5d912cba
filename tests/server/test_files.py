"""Files of drafts and published records, and the L, M, F and R transfers."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.servers import RepositoryUnderTest

from .conftest import (
    METADATA,
    OCTET,
    api_url,
    client_for,
    create_draft,
    files_url,
    published_record,
    upload,
)

TRANSFER_FAILED = "File upload transfer failed."


def host_and_port(repository: RepositoryUnderTest) -> tuple[str, int]:
    """Where to reach the application itself, past any proxy in front of it."""
    parts = urlsplit(str(repository.details.get("app_url", repository.url)))
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def test_local_transfer_lifecycle(api: httpx.Client, repository: RepositoryUnderTest) -> None:
    draft = create_draft(api)
    base = files_url(draft["id"])
    init = api.post(base, json=[{"key": "dir/data.csv", "metadata": {"description": "d"}}])
    assert init.status_code == 201
    listing = init.json()
    assert listing["enabled"] is True and listing["order"] == []
    assert listing["default_preview"] is None
    assert listing["links"] == {
        "self": f"{api_url(repository)}/records/{draft['id']}/draft/files",
        "archive": f"{api_url(repository)}/records/{draft['id']}/draft/files-archive",
    }
    (entry,) = listing["entries"]
    assert entry["key"] == "dir/data.csv"
    assert entry["status"] == "pending" and entry["transfer"] == {"type": "L"}
    assert entry["metadata"] == {"description": "d"}
    assert "checksum" not in entry and "size" not in entry
    assert "storage_class" not in entry  # only once there is an object
    assert entry["links"] == {
        "self": f"{api_url(repository)}{base}/dir/data.csv",
        "content": f"{api_url(repository)}{base}/dir/data.csv/content",
        "commit": f"{api_url(repository)}{base}/dir/data.csv/commit",
    }
    first = api.put(f"{base}/dir/data.csv/content", content=b"first", headers=OCTET)
    assert first.status_code == 200 and first.json()["status"] == "pending"
    assert "size" not in first.json() and "checksum" not in first.json()
    # a second upload before the commit replaces the first
    api.put(f"{base}/dir/data.csv/content", content=b"a,b\n1,2\n", headers=OCTET)
    committed = api.post(f"{base}/dir/data.csv/commit")
    assert committed.status_code == 200
    entry = committed.json()
    assert entry["status"] == "completed"
    assert entry["checksum"] == "md5:" + hashlib.md5(b"a,b\n1,2\n").hexdigest()
    assert entry["size"] == 8 and entry["mimetype"] == "text/csv"
    assert entry["created"].endswith("+00:00")
    for name in ("file_id", "version_id", "bucket_id"):
        assert entry[name]
    assert entry["storage_class"] == "L"
    again = api.post(f"{base}/dir/data.csv/commit")  # committing again changes nothing
    assert again.status_code == 200 and again.json()["checksum"] == entry["checksum"]
    content = api.get(f"{base}/dir/data.csv/content", follow_redirects=True)
    assert content.content == b"a,b\n1,2\n"
    assert api.get(f"{base}/dir/data.csv").json()["metadata"] == {"description": "d"}
    no_metadata = api.post(base, json=[{"key": "plain.txt"}]).json()["entries"]
    assert [e["metadata"] for e in no_metadata if e["key"] == "plain.txt"] == [None]
    assert api.get(f"/records/{draft['id']}/draft").json()["files"]["entries"]["plain.txt"] == {
        "key": "plain.txt",
        "metadata": None,
        "access": {"hidden": False},
    }
    committed = upload(api, draft["id"], "other.txt", b"x")
    assert committed["metadata"] is None
    # a background task gives a stored object empty metadata; a busy worker has not yet
    assert api.get(f"{base}/other.txt").json()["metadata"] in (None, {})


def test_a_failed_whole_content_upload_answers_200_and_deletes_the_entry(
    api: httpx.Client, repository: RepositoryUnderTest
) -> None:
    draft = create_draft(api)
    base = files_url(draft["id"])
    upload(api, draft["id"], "done.txt", b"committed")
    # a PUT to a committed file fails, and InvenioRDM deletes the file it failed on
    again = api.put(f"{base}/done.txt/content", content=b"x", headers=OCTET)
    assert again.status_code == 200
    body = again.json()
    assert body["errors"] == TRANSFER_FAILED and body["key"] == "done.txt"
    assert api.get(f"{base}/done.txt").status_code == 404
    # a body that ends before its Content-Length fails the same way
    api.post(base, json=[{"key": "short.bin"}])
    host, port = host_and_port(repository)
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(
            (
                f"PUT /api{base}/short.bin/content HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Authorization: Bearer {repository.token}\r\n"
                "Content-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\n12345"
            ).encode()
        )
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(payload)["errors"] == TRANSFER_FAILED
    assert api.get(f"{base}/short.bin").status_code == 404
    if repository.local is not None:
        assert list((repository.local.data_dir / "tmp").iterdir()) == []


def test_size_limits_are_checked_before_the_body_is_read(local_repository_factory: Any) -> None:
    repo = local_repository_factory(max_file_size=10, bucket_quota=25)
    with client_for(repo) as api:
        draft = create_draft(api)
        base = files_url(draft["id"])
        api.post(base, json=[{"key": f"f{n}"} for n in range(4)])
        too_large = api.put(f"{base}/f0/content", content=b"x" * 11, headers=OCTET)
        assert too_large.status_code == 400
        assert too_large.json() == {"status": 400, "message": "Maximum file size exceeded."}
        assert api.get(f"{base}/f0").json()["status"] == "pending"  # the entry stays
        for key in ("f0", "f1"):
            assert api.put(f"{base}/{key}/content", content=b"x" * 10, headers=OCTET).is_success
        over = api.put(f"{base}/f2/content", content=b"x" * 6, headers=OCTET)
        assert over.status_code == 400
        assert over.json() == {"status": 400, "message": "Bucket quota exceeded."}
        assert api.put(f"{base}/f2/content", content=b"x" * 5, headers=OCTET).is_success
        # a multipart upload is not checked against either
        multipart = {"key": "m", "size": 40, "transfer": {"type": "M", "parts": 1, "part_size": 40}}
        assert api.post(base, json=[multipart]).status_code == 201


def test_a_request_above_the_size_limit_is_413_before_anything_else(
    local_repository_factory: Any,
) -> None:
    repo = local_repository_factory(max_request_size=10)
    too_large = {"status": 413, "message": "The data value transmitted exceeds the capacity limit."}
    with client_for(repo) as api:
        draft = create_draft(api)
        base = files_url(draft["id"])
        parts = {"key": "m", "size": 20, "transfer": {"type": "M", "parts": 2, "part_size": 10}}
        api.post(base, json=[{"key": "whole"}, parts])
        over = api.put(f"{base}/whole/content", content=b"x" * 11, headers=OCTET)
        assert (over.status_code, over.json()) == (413, too_large)
        assert api.get(f"{base}/whole").json()["status"] == "pending"
        # no entry looked at: the body is refused first, as Flask does
        nowhere = api.put(f"{base}/missing/content", content=b"x" * 11, headers=OCTET)
        assert (nowhere.status_code, nowhere.json()) == (413, too_large)
        assert api.put(f"{base}/m/content/1", content=b"x" * 11, headers=OCTET).status_code == 413
        # what the limit lets through is taken as before
        assert api.put(f"{base}/whole/content", content=b"x" * 10, headers=OCTET).is_success
        for part in (1, 2):
            assert api.put(f"{base}/m/content/{part}", content=b"x" * 10, headers=OCTET).is_success


def test_init_checks(api: httpx.Client) -> None:
    draft = create_draft(api)
    base = files_url(draft["id"])

    def errors(body: Any) -> Any:
        response = api.post(base, json=body)
        assert response.status_code == 400, response.text
        return response.json().get("errors")

    # an object is read as a list of its keys, none of them an entry
    assert errors({"key": "a", "size": 1}) == [
        {"field": "0._schema", "messages": ["Invalid input type."]},
        {"field": "1._schema", "messages": ["Invalid input type."]},
    ]
    for nothing in ([], {}, None):
        assert errors(nothing) == [{"field": "_schema", "messages": ["No files to upload."]}]
    assert errors([{"key": "a", "colour": "red"}]) == [
        {"field": "0.colour", "messages": ["Unknown field."]}
    ]
    assert errors([{"metadata": {}}])[0]["field"] == "0.key"
    assert errors([{"key": 5}]) == [{"field": "0.key", "messages": ["Not a valid string."]}]
    assert errors([{"key": "a", "transfer": {"type": "X"}}]) == [
        {"field": "0.transfer.type", "messages": ["Unsupported value: X"]}
    ]
    assert errors([{"key": "a", "transfer": "L"}]) == [
        {"field": "transfer", "messages": ["Transfer metadata must be a dictionary."]}
    ]
    assert errors([{"key": "a", "access": {"hidden": "x"}}]) == [
        {"field": "0.access.hidden", "messages": ["Not a valid boolean."]}
    ]
    assert errors([{"key": "a", "size": "x"}]) == [
        {"field": "0.size", "messages": ["Not a valid integer."]}
    ]
    assert api.post(base, json=5).status_code == 500  # InvenioRDM fails on it
    assert api.post(base, json=[{"key": "a"}]).status_code == 201
    duplicate = api.post(base, json=[{"key": "b"}, {"key": "a"}])
    assert duplicate.status_code == 400
    assert duplicate.json() == {"status": 400, "message": "File with key a already exists."}
    assert [e["key"] for e in api.get(base).json()["entries"]] == ["a"]  # nothing half-done
    too_many = api.post(base, json=[{"key": f"f{n}"} for n in range(100)])
    assert too_many.status_code == 400
    assert too_many.json()["message"] == (
        "Uploading selected files will result in exceeding the max amount per record."
    )
    assert api.post(base, json=[{"key": f"f{n}"} for n in range(99)]).status_code == 201
    wrong_type = api.post(base, content=b"[]", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    assert wrong_type.json() == {
        "status": 415,
        "message": "Invalid 'Content-Type' header. Expected one of: application/json",
    }


def test_files_disabled(api: httpx.Client) -> None:
    draft = create_draft(api, files={"enabled": False})
    base = files_url(draft["id"])
    response = api.post(base, json=[{"key": "a"}])
    assert response.json() == {"status": 403, "message": "Files are not enabled."}
    assert api.get(base).json()["enabled"] is False
    assert "entries" not in api.get(base).json()


def test_content_upload_checks(api: httpx.Client, repository: RepositoryUnderTest) -> None:
    draft = create_draft(api)
    base = files_url(draft["id"])
    api.post(base, json=[{"key": "a.bin"}])
    wrong = api.put(f"{base}/a.bin/content", content=b"x", headers={"Content-Type": "text/plain"})
    assert wrong.status_code == 415
    assert wrong.json() == {
        "status": 415,
        "message": "Invalid 'Content-Type' header. Expected one of: application/octet-stream",
    }
    never = api.post(f"{base}/a.bin/commit")
    assert never.status_code == 500  # as InvenioRDM answers a commit without content
    # so is reading the content of a local file that has none yet
    assert api.get(f"{base}/a.bin/content").status_code == 500
    missing = api.put(f"{base}/missing/content", content=b"x", headers=OCTET)
    assert missing.status_code == 404
    assert missing.json() == {
        "status": 404,
        "message": f"Record '{draft['id']}' has no file 'missing'.",
    }
    if not repository.is_local:
        return
    # a chunked body carries no Content-Length: refused with 411 (a difference kept)
    host, port = host_and_port(repository)
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.putrequest("PUT", f"/api{base}/a.bin/content")
    connection.putheader("Authorization", f"Bearer {repository.token}")
    connection.putheader("Content-Type", "application/octet-stream")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    connection.send(b"3\r\nabc\r\n0\r\n\r\n")
    response = connection.getresponse()
    assert response.status == 411
    connection.close()


def test_update_delete_and_delete_all(api: httpx.Client) -> None:
    draft = create_draft(api)
    base = files_url(draft["id"])
    upload(api, draft["id"], "a.txt", b"a")
    upload(api, draft["id"], "b.txt", b"b")
    updated = api.put(f"{base}/a.txt", json={"metadata": {"type": "data"}})
    assert updated.status_code == 200 and updated.json()["metadata"] == {"type": "data"}
    hidden = api.put(f"{base}/a.txt", json={"access": {"hidden": True}})
    assert hidden.json()["access"] == {"hidden": True}
    assert hidden.json()["metadata"] == {"type": "data"}
    refused = api.put(f"{base}/a.txt", json={"key": "renamed"})
    assert refused.status_code == 400
    assert refused.json()["errors"] == [{"field": "key", "messages": ["Unknown field."]}]
    not_mapping = api.put(f"{base}/a.txt", json={"metadata": "x"})
    assert not_mapping.json()["errors"] == [
        {"field": "metadata", "messages": ["Not a valid mapping type."]}
    ]
    assert api.delete(f"{base}/a.txt").status_code == 204
    missing = api.get(f"{base}/a.txt")
    assert missing.status_code == 404
    assert missing.json()["message"] == f"Record '{draft['id']}' has no file 'a.txt'."
    assert api.delete(base).status_code == 204
    assert api.get(base).json()["entries"] == []


def test_published_files_are_read_only(api: httpx.Client, anonymous: httpx.Client) -> None:
    record = published_record(api, {"x/y.txt": b"hello"})
    base = f"/records/{record['id']}/files"
    listing = anonymous.get(base).json()
    (entry,) = listing["entries"]
    assert "commit" not in entry["links"]
    assert entry["links"]["content"].endswith(f"{base}/x/y.txt/content")
    assert anonymous.get(f"{base}/x/y.txt").json()["size"] == 5
    assert anonymous.get(f"{base}/x/y.txt/content", follow_redirects=True).content == b"hello"
    assert api.post(base, json=[{"key": "n"}]).status_code == 405
    assert api.delete(f"{base}/x/y.txt").status_code == 405


def test_the_file_limit_per_record_is_configurable(local_repository_factory: Any) -> None:
    repo = local_repository_factory(max_files=3)
    with client_for(repo) as api:
        base = files_url(create_draft(api)["id"])
        assert api.post(base, json=[{"key": f"f{n}"} for n in range(3)]).status_code == 201
        refused = api.post(base, json=[{"key": "one-more"}])
        assert refused.status_code == 400
        assert "exceeding the max amount" in refused.json()["message"]


@pytest.mark.direct_actions
def test_a_file_is_looked_up_before_the_caller_is_asked(
    api: httpx.Client, repository: RepositoryUnderTest
) -> None:
    draft = create_draft(api)
    base = files_url(draft["id"])
    api.post(base, json=[{"key": "a"}])
    metadata_only = create_draft(api, files={"enabled": False})
    with client_for(repository, repository.another_user()) as other:
        assert other.get(f"{base}/a").status_code == 403
        missing = other.get(f"{base}/nokey")
        assert missing.status_code == 404
        assert missing.json()["message"] == f"Record '{draft['id']}' has no file 'nokey'."
        assert other.get(f"{base}/nokey/content").status_code == 404
        assert other.get(base).status_code == 403
        disabled = other.get(f"{files_url(metadata_only['id'])}/nokey")
        assert disabled.json() == {"status": 403, "message": "Files are not enabled."}
    record = api.post(f"/records/{metadata_only['id']}/draft/actions/publish").json()
    for url in (f"/records/{record['id']}/files/x", f"/records/{record['id']}/files/x/content"):
        assert api.get(url).json() == {"status": 403, "message": "Files are not enabled."}
    listing = api.get(f"/records/{record['id']}/files").json()
    assert listing["enabled"] is False and "entries" not in listing


def test_users_have_their_own_drafts(api: httpx.Client, repository: RepositoryUnderTest) -> None:
    draft = create_draft(api)
    upload(api, draft["id"], "a.txt", b"a")
    with client_for(repository, repository.another_user()) as eve:
        base = files_url(draft["id"])
        assert eve.get(f"{base}/a.txt/content").status_code == 403
        assert eve.put(f"{base}/a.txt/content", content=b"x", headers=OCTET).status_code == 403
        own = create_draft(eve)
        assert (
            own["parent"]["access"]["owned_by"]["user"]
            != draft["parent"]["access"]["owned_by"]["user"]
        )
    assert api.put(f"/records/{draft['id']}/draft", json={"metadata": METADATA}).status_code == 200
