"""Records and drafts: the contract of /api/records and /api/user/records."""

from __future__ import annotations

import datetime

import httpx
import pytest

from tests.servers import RepositoryUnderTest

from .conftest import (
    DRAFT_KEYS,
    METADATA,
    OCTET,
    api_url,
    client_for,
    create_draft,
    published_record,
    unique,
    upload,
)

MISSING_FILES = (
    "Missing uploaded files. To disable files for this record please mark it as metadata-only."
)
@pytest.mark.direct_actions
def test_publish_checks(api: httpx.Client) -> None:
    incomplete = api.post("/records", json={"metadata": {"title": "Only a title"}}).json()
    response = api.post(f"/records/{incomplete['id']}/draft/actions/publish")
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "A validation error occurred."
    assert {e["field"] for e in body["errors"]} == {
        "metadata.creators",
        "metadata.resource_type",
        "metadata.publication_date",
    }

    no_files = create_draft(api)
    response = api.post(f"/records/{no_files['id']}/draft/actions/publish")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "files.enabled", "messages": [MISSING_FILES]}]

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
    # an update does not remind of files once there is an entry, even a pending one
    updated = api.put(f"/records/{pending['id']}/draft", json={"metadata": METADATA})
    assert "errors" not in updated.json()
    switched_off = api.put(
        f"/records/{pending['id']}/draft",
        json={"metadata": METADATA, "files": {"enabled": False}},
    )
    assert switched_off.json()["errors"] == [
        {
            "field": "files.enabled",
            "messages": ["You must first delete all files to set the record to be metadata-only."],
        }
    ]
    assert switched_off.json()["files"]["enabled"] is True


@pytest.mark.direct_actions
def test_publish_metadata_only(api: httpx.Client) -> None:
    draft = create_draft(api, files={"enabled": False})
    assert "errors" not in draft
    response = api.post(f"/records/{draft['id']}/draft/actions/publish")
    assert response.status_code == 202
    record = response.json()
    assert record["files"] == {
        "enabled": False,
        "order": [],
        "count": 0,
        "total_bytes": 0,
        "entries": {},
    }
    assert record["access"]["status"] == "metadata-only"
    assert set(record) == (DRAFT_KEYS - {"expires_at"}) | {"deletion_status", "stats"}
    assert record["deletion_status"] == {"is_deleted": False, "status": "P"}


@pytest.mark.direct_actions
def test_publish_and_read(api: httpx.Client, anonymous: httpx.Client) -> None:
    record = published_record(api)
    assert record["status"] == "published"
    assert record["is_published"] is True and record["is_draft"] is False
    assert record["versions"] == {"index": 1, "is_latest": True, "is_latest_draft": True}
    assert record["files"]["count"] == 1 and record["files"]["total_bytes"] == 10
    record_url = f"{api.base_url}records/{record['id']}"
    assert record["links"]["self"] == record_url
    assert record["links"]["files"] == f"{record_url}/files"
    assert record["links"]["draft"] == f"{record_url}/draft"
    assert record["links"]["latest"] == f"{record_url}/versions/latest"
    read = anonymous.get(f"/records/{record['id']}")
    assert read.status_code == 200
    assert read.headers["ETag"] == f'"{record["revision_id"]}"'
    no_draft = api.get(f"/records/{record['id']}/draft")
    assert no_draft.status_code == 404
    assert no_draft.json() == {
        "status": 404,
        "message": "The persistent identifier does not exist.",
    }
    # the draft is gone once published: publishing it again, or changing it, finds nothing
    again = api.post(f"/records/{record['id']}/draft/actions/publish")
    assert again.status_code == 404
    assert again.json() == {"status": 404, "message": "Not found."}
    assert api.put(f"/records/{record['id']}/draft", json={}).json()["message"] == "Not found."
    assert api.get(f"/records/{record['id']}/draft/files").json()["message"] == "Not found."


@pytest.mark.direct_actions
def test_published_records_read_and_found(
    api: httpx.Client, anonymous: httpx.Client, repository: RepositoryUnderTest
) -> None:
    """Read or found, a published record shows less than the answer to its publication."""
    published = published_record(api)
    assert published["pids"]["oai"] == {
        "identifier": f"oai:oai:invenio-app-rdm.org::{published['id']}",
        "provider": "oai",
    }
    assert set(published["parent"]["access"]) == {"grants", "owned_by", "links", "settings"}
    read = anonymous.get(f"/records/{published['id']}").json()
    assert set(read["parent"]["access"]) == {"owned_by", "settings"}
    assert read["versions"] == {"is_latest": True, "index": 1}
    url = f"{api_url(repository)}/records/{published['id']}/files/data.bin"
    assert read["files"]["entries"]["data.bin"]["links"] == {
        "self": url,
        "content": f"{url}/content",
    }
    found = anonymous.get("/records", params={"q": f"id:{published['id']}"}).json()
    (hit,) = found["hits"]["hits"]
    assert "links" not in hit["files"]["entries"]["data.bin"]
    assert found["page"] == 1
    # files only their owner may see are not even listed to others
    draft = create_draft(api, access={"record": "public", "files": "restricted"})
    upload(api, draft["id"], "secret.txt", b"secret")
    closed = api.post(f"/records/{draft['id']}/draft/actions/publish").json()
    shown = anonymous.get(f"/records/{closed['id']}").json()
    assert shown["files"] == {"enabled": True} and shown["media_files"] == {"enabled": False}
    assert api.get(f"/records/{closed['id']}").json()["files"]["count"] == 1
    # a restricted record is not harvested
    hidden = create_draft(
        api, access={"record": "restricted", "files": "restricted"}, files={"enabled": False}
    )
    private = api.post(f"/records/{hidden['id']}/draft/actions/publish").json()
    assert "oai" not in private["pids"]


def test_unpublished_record_is_not_registered(api: httpx.Client) -> None:
    draft = create_draft(api)
    response = api.get(f"/records/{draft['id']}")
    assert response.status_code == 404
    assert response.json()["message"] == "The persistent identifier is not registered."
    version = api.post(f"/records/{draft['id']}/versions")
    assert version.status_code == 404
    assert version.json()["message"] == "The persistent identifier is not registered."
    # editing a draft that was never published hands the draft back
    edit = api.post(f"/records/{draft['id']}/draft")
    assert edit.status_code == 201
    assert edit.json()["id"] == draft["id"] and edit.json()["status"] == "draft"


@pytest.mark.direct_actions
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
    assert published.json()["revision_id"] > record["revision_id"]
    content = api.get(f"/records/{record['id']}/files/data.bin/content", follow_redirects=True)
    assert content.content == b"0123456789"


def test_record_file_entries_are_shaped_as_invenio_rdm_shapes_them(api: httpx.Client) -> None:
    draft = create_draft(api)
    base = f"/records/{draft['id']}/draft/files"
    upload(api, draft["id"], "table.csv", b"a,b\n1,2\n")
    api.put(f"{base}/table.csv", json={"metadata": {"description": "d", "type": "table"}})
    api.post(base, json=[{"key": "later.bin", "metadata": {}}])
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


@pytest.mark.direct_actions
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
    # the metadata comes along, dated today
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    assert draft["metadata"] == {**record["metadata"], "publication_date": today}
    again = api.post(f"/records/{record['id']}/versions")
    assert again.json()["id"] == draft["id"]
    imported = api.post(f"/records/{draft['id']}/draft/actions/files-import")
    assert imported.status_code == 201
    assert [e["key"] for e in imported.json()["entries"]] == ["a.txt"]
    assert imported.json()["entries"][0]["status"] == "completed"
    twice = api.post(f"/records/{draft['id']}/draft/actions/files-import")
    assert twice.status_code == 400
    assert twice.json()["errors"] == [
        {"field": "files.enabled", "messages": ["Please remove all files first."]}
    ]
    upload(api, draft["id"], "b.txt", b"second")
    api.put(f"/records/{draft['id']}/draft", json={"metadata": METADATA})
    published = api.post(f"/records/{draft['id']}/draft/actions/publish")
    assert published.status_code == 202
    assert published.json()["versions"]["is_latest"] is True
    old = api.get(f"/records/{record['id']}").json()
    assert old["versions"]["is_latest"] is False
    latest = api.get(f"/records/{record['id']}/versions/latest")
    assert latest.status_code == 301
    location = f"{api.base_url}records/{draft['id']}"
    assert latest.headers["Location"] == location
    assert latest.json() == {"status": 301, "message": "Redirecting...", "location": location}
    versions = api.get(f"/records/{record['id']}/versions").json()
    assert versions["hits"]["total"] == 2 and versions["sortBy"] == "version"
    content = api.get(f"/records/{record['id']}/files/a.txt/content", follow_redirects=True)
    assert content.content == b"first"


@pytest.mark.direct_actions
def test_a_new_version_keeps_what_the_last_one_had(api: httpx.Client) -> None:
    draft = create_draft(
        api,
        metadata={**METADATA, "version": "v1", "description": "Measured twice"},
        files={"enabled": False},
        access={"record": "public", "files": "restricted"},
    )
    record = api.post(f"/records/{draft['id']}/draft/actions/publish").json()
    new = api.post(f"/records/{record['id']}/versions").json()
    assert new["revision_id"] == 5
    assert "version" not in new["metadata"]
    assert new["metadata"]["description"] == "Measured twice"
    assert new["files"]["enabled"] is False
    assert new["access"]["files"] == "restricted"
    refused = api.post(f"/records/{new['id']}/draft/actions/files-import")
    assert refused.status_code == 400
    assert refused.json()["errors"] == [
        {"field": "files.enabled", "messages": ["Files support must be enabled."]}
    ]


@pytest.mark.direct_actions
def test_search(
    api: httpx.Client, anonymous: httpx.Client, repository: RepositoryUnderTest
) -> None:
    word = unique("zebra")
    ids = []
    for name in ("alpha", "bravo", "charlie"):
        draft = create_draft(api, files={"enabled": False})
        api.put(
            f"/records/{draft['id']}/draft",
            json={
                "metadata": {**METADATA, "title": f"Record {name} {word}"},
                "files": {"enabled": False},
            },
        )
        ids.append(api.post(f"/records/{draft['id']}/draft/actions/publish").json()["id"])
    api.post("/records", json={"metadata": {**METADATA, "title": f"Draft {word}"}})
    page = anonymous.get("/records", params={"q": word, "size": 2, "sort": "oldest"})
    assert page.status_code == 200
    body = page.json()
    assert body["hits"]["total"] == 3  # a draft is not found by the published search
    assert [hit["id"] for hit in body["hits"]["hits"]] == ids[:2]
    assert body["sortBy"] == "oldest"
    assert "prev" not in body["links"]
    assert body["links"]["next"].startswith(f"{api_url(repository)}/records?")
    second = anonymous.get(body["links"]["next"]).json()
    assert [hit["id"] for hit in second["hits"]["hits"]] == ids[2:]
    assert "next" not in second["links"] and "prev" in second["links"]
    newest = anonymous.get("/records", params={"q": word, "sort": "newest"}).json()
    assert [hit["id"] for hit in newest["hits"]["hits"]] == ids[::-1]
    found = anonymous.get("/records", params={"q": f"bravo {word}"}).json()
    assert [hit["id"] for hit in found["hits"]["hits"]] == [ids[1]]
    assert found["sortBy"] == "bestmatch"
    by_id = anonymous.get("/records", params={"q": f"id:{ids[2]}"}).json()
    assert by_id["hits"]["total"] == 1
    nonsense = anonymous.get("/records", params={"sort": "nonsense"})
    assert nonsense.status_code == 400
    assert nonsense.json()["errors"] == [
        {"field": "_schema", "messages": ["Invalid sort option 'nonsense'."]}
    ]
    page_zero = anonymous.get("/records", params={"page": "0"})
    assert page_zero.status_code == 400
    assert page_zero.json()["errors"] == [
        {"field": "page", "messages": ["Must be greater than or equal to 1."]}
    ]


def test_user_records(api: httpx.Client, repository: RepositoryUnderTest) -> None:
    record = published_record(api)
    draft = create_draft(api)
    mine = api.get("/user/records", params={"size": 100}).json()
    hits = {hit["id"]: hit for hit in mine["hits"]["hits"]}
    assert hits[record["id"]]["is_draft"] is False and hits[draft["id"]]["is_draft"] is True
    assert mine["sortBy"] == "updated-desc"
    with client_for(repository, repository.another_user()) as bob:
        theirs = bob.get("/user/records", params={"size": 100}).json()
        assert not {record["id"], draft["id"]} & {hit["id"] for hit in theirs["hits"]["hits"]}
    with client_for(repository, "") as anonymous:
        refused = anonymous.get("/user/records")
        assert refused.status_code == 403
        assert refused.json() == {"status": 403, "message": "Permission denied."}


@pytest.mark.direct_actions
def test_restricted_record(api: httpx.Client, anonymous: httpx.Client) -> None:
    draft = create_draft(api, access={"record": "restricted", "files": "restricted"})
    upload(api, draft["id"], "secret.txt", b"secret")
    record = api.post(f"/records/{draft['id']}/draft/actions/publish").json()
    assert record["access"]["status"] == "restricted"
    assert anonymous.get(f"/records/{record['id']}").status_code == 403
    hidden = anonymous.get("/records", params={"q": f"id:{record['id']}"}).json()
    assert hidden["hits"]["total"] == 0
    content = api.get(f"/records/{record['id']}/files/secret.txt/content", follow_redirects=True)
    assert content.content == b"secret"
