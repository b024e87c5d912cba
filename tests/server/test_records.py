"""Records and drafts: the contract of /api/records and /api/user/records."""

from __future__ import annotations

from typing import Any

import httpx

from nrpfiles.testing import LocalRepository

from .conftest import METADATA, OCTET, client_for, create_draft, published_record, upload


def test_create_is_lenient_and_reports_errors(api: httpx.Client, repo: LocalRepository) -> None:
    response = api.post("/records", json={"metadata": {"title": "x"}})
    assert response.status_code == 201
    body = response.json()
    assert response.headers["ETag"] == f'"{body["revision_id"]}"'
    fields = {error["field"] for error in body["errors"]}
    assert {"metadata.title", "metadata.creators", "metadata.publication_date"} <= fields
    assert "metadata.resource_type" in fields
    assert "files.enabled" in fields  # files enabled and none uploaded yet
    assert body["is_draft"] is True and body["is_published"] is False
    assert body["status"] == "draft"
    assert body["files"]["enabled"] is True
    for name in ("self", "self_html", "files", "publish", "record", "versions"):
        assert body["links"][name].startswith(repo.url)
    assert body["links"]["self"] == f"{repo.api_url}/records/{body['id']}/draft"
    assert body["links"]["files"] == f"{repo.api_url}/records/{body['id']}/draft/files"


def test_read_update_and_if_match(api: httpx.Client) -> None:
    draft = create_draft(api)
    url = f"/records/{draft['id']}/draft"
    read = api.get(url)
    assert read.status_code == 200 and read.json()["metadata"]["title"] == METADATA["title"]
    revision = read.json()["revision_id"]
    assert read.headers["ETag"] == f'"{revision}"'  # quoted, as HTTP has it...
    # ...but If-Match is read as a bare integer, so the ETag sent back is refused
    for echoed in (read.headers["ETag"], f'W/"{revision}"'):
        refused = api.put(url, json={"metadata": METADATA}, headers={"If-Match": echoed})
        assert refused.status_code == 400
        assert refused.json() == {
            "status": 400,
            "message": "A validation error occurred.",
            "errors": [{"field": "if_match", "messages": ["Not a valid integer."]}],
        }
    stale = api.put(url, json={"metadata": METADATA}, headers={"If-Match": "999"})
    assert stale.status_code == 412
    assert stale.json() == {
        "status": 412,
        "message": f"Revision id provided(999) doesn't match record's one({revision})",
    }
    assert api.get(url).json()["revision_id"] == revision  # refused changes leave no trace
    updated = api.put(
        url,
        json={"metadata": {**METADATA, "title": "No"}},
        headers={"If-Match": str(revision)},
    )
    assert updated.status_code == 200
    assert updated.json()["revision_id"] == revision + 1
    assert updated.headers["ETag"] == f'"{revision + 1}"'
    assert updated.json()["errors"] == [
        {"field": "metadata.title", "messages": ["Shorter than minimum length 3."]},
        {
            "field": "files.enabled",
            "messages": [
                "Missing uploaded files. To disable files for this record please mark it "
                "as metadata-only."
            ],
        },
    ]


def test_if_match_is_checked_before_the_caller(api: httpx.Client, repo: LocalRepository) -> None:
    """InvenioRDM parses the header first, then resolves, compares, and only then asks who."""
    draft = create_draft(api)
    url = f"{repo.api_url}/records/{draft['id']}/draft"
    assert httpx.put(url, json={}, headers={"If-Match": '"1"'}).status_code == 400
    assert httpx.put(url, json={}, headers={"If-Match": "9"}).status_code == 412
    assert httpx.put(url, json={}, headers={"If-Match": "1"}).status_code == 403
    missing = f"{repo.api_url}/records/aaaaa-bbbbb/draft"
    assert httpx.delete(missing, headers={"If-Match": "1"}).status_code == 404


def test_delete_draft(api: httpx.Client) -> None:
    draft = create_draft(api)
    url = f"/records/{draft['id']}/draft"
    assert api.delete(url, headers={"If-Match": "7"}).status_code == 412
    assert api.delete(url, headers={"If-Match": '"1"'}).status_code == 400
    response = api.delete(url, headers={"If-Match": "1"})
    assert response.status_code == 204 and response.content == b""
    missing = api.get(url)
    assert missing.status_code == 404
    assert missing.json() == {
        "status": 404,
        "message": "The persistent identifier does not exist.",
    }


def test_publish_checks(api: httpx.Client) -> None:
    incomplete = api.post("/records", json={"metadata": {"title": "Only a title"}}).json()
    response = api.post(f"/records/{incomplete['id']}/draft/actions/publish")
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "A validation error occurred."
    assert {e["field"] for e in body["errors"]} >= {"metadata.creators", "metadata.resource_type"}

    no_files = create_draft(api)
    response = api.post(f"/records/{no_files['id']}/draft/actions/publish")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "files.enabled"

    pending = create_draft(api)
    api.post(f"/records/{pending['id']}/draft/files", json=[{"key": "a.txt"}])
    response = api.post(f"/records/{pending['id']}/draft/actions/publish")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "field": "files",
            "messages": ["One or more files have not completed their transfer, please wait."],
        }
    ]


def test_publish_metadata_only(api: httpx.Client) -> None:
    draft = create_draft(api, files={"enabled": False})
    assert "errors" not in draft
    response = api.post(f"/records/{draft['id']}/draft/actions/publish")
    assert response.status_code == 202
    assert response.json()["files"] == {"enabled": False}
    assert response.json()["access"]["status"] == "metadata-only"


def test_publish_and_read(
    api: httpx.Client, anonymous: httpx.Client, repo: LocalRepository
) -> None:
    record = published_record(api)
    assert record["status"] == "published"
    assert record["is_published"] is True and record["is_draft"] is False
    assert record["versions"] == {"index": 1, "is_latest": True, "is_latest_draft": True}
    assert record["files"]["count"] == 1 and record["files"]["total_bytes"] == 10
    assert record["links"]["self"] == f"{repo.api_url}/records/{record['id']}"
    assert record["links"]["files"] == f"{repo.api_url}/records/{record['id']}/files"
    read = anonymous.get(f"/records/{record['id']}")
    assert read.status_code == 200
    assert read.headers["ETag"] == f'"{record["revision_id"]}"'
    assert api.get(f"/records/{record['id']}/draft").status_code == 404
    # the draft is gone once published: publishing it again finds nothing
    again = api.post(f"/records/{record['id']}/draft/actions/publish")
    assert again.status_code == 404
    assert again.json() == {"status": 404, "message": "The persistent identifier does not exist."}


def test_unpublished_record_is_not_registered(api: httpx.Client) -> None:
    draft = create_draft(api)
    response = api.get(f"/records/{draft['id']}")
    assert response.status_code == 404
    assert response.json()["message"] == "The persistent identifier is not registered."


def test_edit_published_locks_files(api: httpx.Client) -> None:
    record = published_record(api)
    response = api.post(f"/records/{record['id']}/draft")
    assert response.status_code == 201
    draft = response.json()
    assert draft["is_published"] is True and draft["is_draft"] is True
    assert list(draft["files"]["entries"]) == ["data.bin"]
    files = f"/records/{record['id']}/draft/files"
    publish = f"/records/{record['id']}/draft/actions/publish"
    locked = {"status": 403, "message": "Bucket is locked for modifications."}
    assert api.delete(f"{files}/data.bin").json() == locked
    assert api.delete(files).status_code == 403
    multipart = {"key": "m.bin", "size": 4, "transfer": {"type": "M", "parts": 1, "part_size": 4}}
    assert api.post(files, json=[multipart]).json() == locked
    # a local entry holds no object yet, so it is created; its content is what is refused
    assert api.post(files, json=[{"key": "new.txt"}]).status_code == 201
    content = api.put(f"{files}/new.txt/content", content=b"new", headers=OCTET)
    assert content.status_code == 403 and content.json() == locked
    assert api.get(f"{files}/new.txt").json()["status"] == "pending"
    blocked = api.post(publish)  # the pending entry left behind blocks publishing...
    assert blocked.status_code == 400 and blocked.json()["errors"][0]["field"] == "files"
    assert api.delete(f"{files}/new.txt").status_code == 204  # ...until it is deleted
    meta = api.put(f"{files}/data.bin", json={"metadata": {"description": "ok"}})
    assert meta.status_code == 200
    new_title = {**METADATA, "title": "Edited title"}
    assert (
        api.put(f"/records/{record['id']}/draft", json={"metadata": new_title}).status_code == 200
    )
    published = api.post(publish)
    assert published.status_code == 202
    assert published.json()["metadata"]["title"] == "Edited title"
    assert published.json()["revision_id"] == record["revision_id"] + 1
    content = api.get(f"/records/{record['id']}/files/data.bin/content")
    assert content.content == b"0123456789"


def test_record_file_entries_are_shaped_as_invenio_rdm_shapes_them(api: httpx.Client) -> None:
    draft = create_draft(api)
    base = f"/records/{draft['id']}/draft/files"
    upload(api, draft["id"], "table.csv", b"a,b\n1,2\n")
    api.put(f"{base}/table.csv", json={"metadata": {"description": "d", "type": "table"}})
    api.post(base, json=[{"key": "later.bin"}])
    entries = api.get(f"/records/{draft['id']}/draft").json()["files"]["entries"]
    committed = entries["table.csv"]
    assert list(committed) == [
        "id",
        "checksum",
        "ext",
        "size",
        "mimetype",
        "storage_class",
        "key",
        "metadata",
        "access",
    ]
    listed = api.get(f"{base}/table.csv").json()
    assert committed["id"] == listed["file_id"]
    assert committed["checksum"] == listed["checksum"] and committed["size"] == 8
    assert committed["ext"] == "csv" and committed["mimetype"] == "text/csv"
    assert committed["storage_class"] == "L"
    assert committed["metadata"] == {"type": "table"}  # only the fields RDM's schema knows
    assert committed["access"] == {"hidden": False}
    # a pending local entry has no object yet: only what the entry itself says
    assert entries["later.bin"] == {"key": "later.bin", "metadata": {}, "access": {"hidden": False}}


def test_new_version_and_files_import(api: httpx.Client) -> None:
    record = published_record(api, {"a.txt": b"first"})
    response = api.post(f"/records/{record['id']}/versions")
    assert response.status_code == 201
    draft = response.json()
    assert draft["id"] != record["id"]
    assert draft["parent"]["id"] == record["parent"]["id"]
    assert draft["status"] == "new_version_draft"
    assert draft["versions"]["index"] == 2
    assert draft["files"]["enabled"] is True and draft["files"]["entries"] == {}
    assert "publication_date" not in draft["metadata"]
    again = api.post(f"/records/{record['id']}/versions")
    assert again.json()["id"] == draft["id"]
    imported = api.post(f"/records/{draft['id']}/draft/actions/files-import")
    assert imported.status_code == 201
    assert [e["key"] for e in imported.json()["entries"]] == ["a.txt"]
    upload(api, draft["id"], "b.txt", b"second")
    api.put(f"/records/{draft['id']}/draft", json={"metadata": METADATA})
    published = api.post(f"/records/{draft['id']}/draft/actions/publish")
    assert published.status_code == 202
    assert published.json()["versions"]["is_latest"] is True
    old = api.get(f"/records/{record['id']}").json()
    assert old["versions"]["is_latest"] is False
    latest = api.get(f"/records/{record['id']}/versions/latest")
    assert latest.status_code == 302
    assert latest.headers["Location"].endswith(f"/records/{draft['id']}")
    versions = api.get(f"/records/{record['id']}/versions").json()
    assert versions["hits"]["total"] == 2
    assert api.get(f"/records/{record['id']}/files/a.txt/content").content == b"first"


def test_search(api: httpx.Client, anonymous: httpx.Client, repo: LocalRepository) -> None:
    ids = []
    for word in ("alpha", "bravo", "charlie"):
        draft = create_draft(api, files={"enabled": False})
        api.put(
            f"/records/{draft['id']}/draft",
            json={"metadata": {**METADATA, "title": f"Record {word} zebra"}},
        )
        ids.append(api.post(f"/records/{draft['id']}/draft/actions/publish").json()["id"])
    create_draft(api)  # a draft is not found by the published search
    page = anonymous.get("/records", params={"size": 2, "sort": "oldest"})
    assert page.status_code == 200
    body = page.json()
    assert body["hits"]["total"] == 3
    assert [hit["id"] for hit in body["hits"]["hits"]] == ids[:2]
    assert body["sortBy"] == "oldest"
    assert "prev" not in body["links"]
    assert body["links"]["next"].startswith(f"{repo.api_url}/records?")
    second = anonymous.get(body["links"]["next"]).json()
    assert [hit["id"] for hit in second["hits"]["hits"]] == ids[2:]
    assert "next" not in second["links"] and "prev" in second["links"]
    newest = anonymous.get("/records", params={"sort": "newest"}).json()
    assert [hit["id"] for hit in newest["hits"]["hits"]] == ids[::-1]
    found = anonymous.get("/records", params={"q": "Bravo zebra"}).json()
    assert [hit["id"] for hit in found["hits"]["hits"]] == [ids[1]]
    assert found["sortBy"] == "bestmatch"
    by_id = anonymous.get("/records", params={"q": f"id:{ids[2]}"}).json()
    assert by_id["hits"]["total"] == 1
    assert anonymous.get("/records", params={"sort": "nonsense"}).status_code == 400
    assert anonymous.get("/records", params={"page": "0"}).status_code == 400


def test_user_records(api: httpx.Client, anonymous: httpx.Client, repo: LocalRepository) -> None:
    published_record(api)
    create_draft(api)
    mine = api.get("/user/records").json()
    assert mine["hits"]["total"] == 2
    assert {hit["is_draft"] for hit in mine["hits"]["hits"]} == {True, False}
    with client_for(repo, repo.add_user("bob")) as bob:
        assert bob.get("/user/records").json()["hits"]["total"] == 0
    assert anonymous.get("/user/records").status_code == 403


def test_auth(api: httpx.Client, repo: LocalRepository) -> None:
    """No 401 anywhere: a missing or unknown token is anonymous, and anonymous is refused."""
    draft = create_draft(api)
    url = f"{repo.api_url}/records/{draft['id']}/draft"
    denied = {"status": 403, "message": "Permission denied."}
    unknown = {"Authorization": "Bearer not-a-token"}
    for headers in ({}, unknown):
        refused = httpx.get(url, headers=headers)
        assert refused.status_code == 403 and refused.json() == denied
        created = httpx.post(f"{repo.api_url}/records", json={"metadata": {}}, headers=headers)
        assert created.status_code == 403 and created.json() == denied
        assert httpx.get(f"{repo.api_url}/user/records", headers=headers).status_code == 403
    record = published_record(api)
    public = httpx.get(f"{repo.api_url}/records/{record['id']}", headers=unknown)
    assert public.status_code == 200  # an unknown token reads what anonymous may read
    with client_for(repo, repo.add_user("mallory")) as other:
        refused = other.get(url)
        assert refused.status_code == 403 and refused.json() == denied
        assert other.get(f"{url}/files").status_code == 403
        assert other.post(f"{url}/actions/publish").status_code == 403
    by_query = httpx.get(url, params={"access_token": repo.token})
    assert by_query.status_code == 200


def test_cookies_without_a_token_need_a_csrf_token(repo: LocalRepository) -> None:
    """The home page hands out cookies; a change carrying them needs a token or a CSRF echo."""
    with httpx.Client(base_url=repo.api_url) as browser:
        home = browser.get(repo.url + "/")
        assert {"session", "csrftoken"} <= set(home.cookies)
        refused = browser.post("/records", json={"metadata": {}})
        assert refused.status_code == 400
        assert refused.json() == {"status": 400, "message": "CSRF token missing or incorrect."}
        echoed = {"X-CSRFToken": browser.cookies["csrftoken"]}
        # past the CSRF check, the anonymous caller meets the permission check
        assert browser.post("/records", json={"metadata": {}}, headers=echoed).status_code == 403
        assert browser.get("/records").status_code == 200  # reading is never checked
        token = {"Authorization": f"Bearer {repo.token}"}
        assert browser.post("/records", json={"metadata": {}}, headers=token).status_code == 201
    with httpx.Client(base_url=repo.api_url) as stranger:
        stranger.cookies.set("session", "x")
        refused = stranger.post("/records", json={"metadata": {}})
        assert refused.json() == {"status": 400, "message": "CSRF cookie not set."}


def test_csrf_can_be_switched_off(local_repository_factory: Any) -> None:
    repo = local_repository_factory(csrf=False)
    with httpx.Client(base_url=repo.api_url) as browser:
        assert not browser.get(repo.url + "/").cookies
        browser.cookies.set("session", "x")
        assert browser.post("/records", json={"metadata": {}}).status_code == 403


def test_restricted_record(api: httpx.Client, anonymous: httpx.Client) -> None:
    draft = create_draft(api, access={"record": "restricted", "files": "restricted"})
    upload(api, draft["id"], "secret.txt", b"secret")
    record = api.post(f"/records/{draft['id']}/draft/actions/publish").json()
    assert record["access"]["status"] == "restricted"
    assert anonymous.get(f"/records/{record['id']}").status_code == 403
    assert anonymous.get("/records").json()["hits"]["total"] == 0
    assert api.get(f"/records/{record['id']}/files/secret.txt/content").content == b"secret"


def test_content_type_and_bad_json(api: httpx.Client) -> None:
    wrong = api.post("/records", content=b"{}", headers={"Content-Type": "text/plain"})
    assert wrong.status_code == 415
    assert wrong.json()["status"] == 415
    broken = api.post("/records", content=b"{", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    assert broken.json()["message"] == "Unable to decode JSON data in request body."
    not_object = api.post("/records", json=[1])
    assert not_object.status_code == 400


def test_unknown_routes(api: httpx.Client) -> None:
    assert api.get("/nothing-here").json()["status"] == 404
    assert api.patch("/records").status_code == 405
