"""Drafts: lenient create and update, what is stored, revisions, If-Match, who may."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from nrpfiles.testing import LocalRepository
from tests.servers import RepositoryUnderTest

from .conftest import (
    DRAFT_KEYS,
    METADATA,
    OCTET,
    api_url,
    client_for,
    create_draft,
    published_record,
)

REQUIRED = "Missing data for required field."
MISSING_FILES = (
    "Missing uploaded files. To disable files for this record please mark it as metadata-only."
)
DATASET_TITLE = {
    "ar": "مجموعة بيانات",
    "cs": "Datová sada",
    "de": "Datensatz",
    "en": "Dataset",
    "es": "Conjunto de datos",
    "sv": "Dataset",
}
def test_create_is_lenient_and_reports_errors(
    api: httpx.Client, repository: RepositoryUnderTest
) -> None:
    response = api.post("/records", json={"metadata": {"title": "x"}})
    assert response.status_code == 201
    body = response.json()
    assert response.headers["ETag"] == f'"{body["revision_id"]}"'
    assert body["errors"] == [
        {"field": "metadata.resource_type", "messages": [REQUIRED]},
        {"field": "metadata.creators", "messages": [REQUIRED]},
        {"field": "metadata.title", "messages": ["Shorter than minimum length 3."]},
        {"field": "metadata.publication_date", "messages": [REQUIRED]},
    ]  # and no word of files: a new draft has had no chance of any yet
    assert body["metadata"] == {}  # what was invalid is reported and not stored
    assert set(body) - {"errors"} == DRAFT_KEYS
    assert body["is_draft"] is True and body["is_published"] is False
    assert body["status"] == "draft"
    assert body["files"] == {
        "enabled": True,
        "order": [],
        "count": 0,
        "total_bytes": 0,
        "entries": {},
    }
    assert body["access"]["status"] == "metadata-only"  # on the create answer only
    assert body["custom_fields"] == {} and body["pids"] == {}
    for name in ("self", "self_html", "files", "publish", "record", "versions"):
        assert body["links"][name].startswith(repository.url)
    assert body["links"]["self"] == f"{api_url(repository)}/records/{body['id']}/draft"
    assert body["links"]["files"] == f"{api_url(repository)}/records/{body['id']}/draft/files"
    read = api.get(f"/records/{body['id']}/draft").json()
    assert read["access"]["status"] == "open" and "errors" not in read
    assert read["revision_id"] == body["revision_id"] == 4


def test_stored_metadata_is_expanded(api: httpx.Client) -> None:
    draft = create_draft(api)
    assert "errors" not in draft
    assert draft["revision_id"] == 5  # a vocabulary reference costs one more write
    metadata = draft["metadata"]
    assert metadata["resource_type"] == {"id": "dataset", "title": DATASET_TITLE}
    assert metadata["creators"] == [
        {
            "person_or_org": {
                "type": "personal",
                "name": "Doe, Jane",
                "given_name": "Jane",
                "family_name": "Doe",
            }
        }
    ]
    # what was read can be sent back as it is
    again = api.put(f"/records/{draft['id']}/draft", json={**draft, "files": {"enabled": False}})
    assert again.status_code == 200 and "errors" not in again.json()
    assert again.json()["metadata"] == metadata


@pytest.mark.direct_actions
def test_invalid_values_are_reported_and_left_out(api: httpx.Client) -> None:
    sent = {
        **METADATA,
        "title": "  Trimmed  ",
        "description": "d",
        "colour": "red",
        "creators": [
            {"person_or_org": {"type": "personal", "family_name": "Roe"}},
            {"person_or_org": {}},
            {"person_or_org": {"type": "organizational", "name": "ACME", "family_name": "X"}},
        ],
    }
    body = api.post(
        "/records",
        json={"metadata": sent, "custom_fields": {"local:note": "x"}, "files": {"enabled": False}},
    ).json()
    assert body["errors"] == [
        {
            "field": "metadata.creators.1.person_or_org.type",
            "messages": ["Invalid value. Choose one of ['organizational', 'personal']."],
        },
        {"field": "metadata.description", "messages": ["Shorter than minimum length 3."]},
        {"field": "metadata.colour", "messages": ["Unknown field."]},
        {"field": "custom_fields.local:note", "messages": ["Unknown field."]},
    ]
    assert body["metadata"]["title"] == "Trimmed"
    assert "description" not in body["metadata"] and "colour" not in body["metadata"]
    assert body["custom_fields"] == {}
    assert [c["person_or_org"] for c in body["metadata"]["creators"]] == [
        {"type": "personal", "name": "Roe", "family_name": "Roe"},
        {"type": "organizational", "name": "ACME"},
    ]
    # publishing checks what was stored; what was left out is now simply missing
    missing = api.post("/records", json={"metadata": {"title": "x", "creators": [{}]}}).json()
    refused = api.post(f"/records/{missing['id']}/draft/actions/publish")
    assert refused.status_code == 400
    assert refused.json()["errors"] == [
        {"field": "metadata.resource_type", "messages": [REQUIRED]},
        {"field": "metadata.creators", "messages": [REQUIRED]},
        {"field": "metadata.title", "messages": [REQUIRED]},
        {"field": "metadata.publication_date", "messages": [REQUIRED]},
    ]  # the metadata first: the missing files are not mentioned yet


def test_vocabulary_ids_and_access_are_checked_strictly(api: httpx.Client) -> None:
    unknown = api.post(
        "/records", json={"metadata": {**METADATA, "resource_type": {"id": "no-such-type"}}}
    )
    assert unknown.status_code == 400
    assert unknown.json() == {"status": 400, "message": "Invalid value no-such-type."}
    for access, missing in (({"record": "public"}, "files"), ({"files": "public"}, "record")):
        half = api.post("/records", json={"metadata": METADATA, "access": access})
        assert half.status_code == 400
        assert half.json() == {
            "status": 400,
            "message": "A validation error occurred.",
            "errors": [{"field": "access", "messages": [f"'{missing}'"]}],
        }
    empty = api.post("/records", json={"metadata": METADATA, "access": {}})
    assert empty.status_code == 201
    assert empty.json()["errors"] == [
        {"field": "access.record", "messages": [REQUIRED]},
        {"field": "access.files", "messages": [REQUIRED]},
    ]


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
    assert updated.json()["revision_id"] == revision + 2
    assert updated.headers["ETag"] == f'"{revision + 2}"'
    assert updated.json()["errors"] == [
        {"field": "metadata.title", "messages": ["Shorter than minimum length 3."]},
        {"field": "files.enabled", "messages": [MISSING_FILES]},
    ]
    assert "title" not in updated.json()["metadata"]
    invalid_date = api.put(url, json={"metadata": {**METADATA, "publication_date": "15. 1."}})
    assert invalid_date.json()["errors"][0] == {
        "field": "metadata.publication_date",
        "messages": ["Please provide a valid date or interval."],
    }
    assert "publication_date" not in invalid_date.json()["metadata"]


@pytest.mark.direct_actions
def test_revisions_follow_writes_not_file_uploads(api: httpx.Client) -> None:
    draft = create_draft(api)
    url = f"/records/{draft['id']}/draft"
    base = f"{url}/files"
    assert draft["revision_id"] == 5

    def revision() -> int:
        return int(api.get(url).json()["revision_id"])

    api.post(base, json=[{"key": "a.txt"}])
    api.put(f"{base}/a.txt/content", content=b"a", headers=OCTET)
    api.post(f"{base}/a.txt/commit")
    api.put(f"{base}/a.txt", json={"metadata": {"type": "data"}})
    assert revision() == 5
    api.post(base, json=[{"key": "b.txt"}])
    assert api.delete(f"{base}/b.txt").status_code == 204
    assert revision() == 7
    assert api.put(url, json={"metadata": METADATA}).json()["revision_id"] == 9
    record = api.post(f"{url}/actions/publish").json()
    edit = api.post(url).json()
    assert edit["revision_id"] > 9 and edit["status"] == "published"
    # on the draft of a published record a pending entry can still be removed
    assert api.post(base, json=[{"key": "late.txt"}]).status_code == 201
    assert api.delete(f"{base}/late.txt").status_code == 204
    assert revision() == edit["revision_id"] + 2
    republished = api.post(f"{url}/actions/publish")
    assert republished.status_code == 202
    assert republished.json()["revision_id"] > record["revision_id"]


def test_if_match_is_checked_before_the_caller(
    api: httpx.Client, repository: RepositoryUnderTest
) -> None:
    """InvenioRDM parses the header first, then resolves, compares, and only then asks who."""
    draft = create_draft(api)
    revision = draft["revision_id"]
    url = f"{api_url(repository)}/records/{draft['id']}/draft"
    assert httpx.put(url, json={}, headers={"If-Match": f'"{revision}"'}).status_code == 400
    assert httpx.put(url, json={}, headers={"If-Match": str(revision + 4)}).status_code == 412
    assert httpx.put(url, json={}, headers={"If-Match": str(revision)}).status_code == 403
    missing = f"{api_url(repository)}/records/aaaaa-bbbbb/draft"
    assert httpx.delete(missing, headers={"If-Match": "1"}).status_code == 404


def test_delete_draft(api: httpx.Client) -> None:
    draft = create_draft(api)
    url = f"/records/{draft['id']}/draft"
    revision = draft["revision_id"]
    assert api.delete(url, headers={"If-Match": str(revision + 2)}).status_code == 412
    assert api.delete(url, headers={"If-Match": f'"{revision}"'}).status_code == 400
    response = api.delete(url, headers={"If-Match": str(revision)})
    assert response.status_code == 204 and response.content == b""
    missing = api.get(url)
    assert missing.status_code == 404
    assert missing.json() == {
        "status": 404,
        "message": "The persistent identifier does not exist.",
    }


def test_auth(api: httpx.Client, repository: RepositoryUnderTest) -> None:
    """No 401 anywhere: a missing or unknown token is anonymous, and anonymous is refused."""
    draft = create_draft(api)
    url = f"{api_url(repository)}/records/{draft['id']}/draft"
    denied = {"status": 403, "message": "Permission denied."}
    unknown = {"Authorization": "Bearer not-a-token"}
    for headers in ({}, unknown):
        refused = httpx.get(url, headers=headers)
        assert refused.status_code == 403 and refused.json() == denied
        created = httpx.post(
            f"{api_url(repository)}/records", json={"metadata": {}}, headers=headers
        )
        assert created.status_code == 403 and created.json() == denied
        assert httpx.get(f"{api_url(repository)}/user/records", headers=headers).status_code == 403
        # what does not exist is not there for anyone
        missing = httpx.get(f"{api_url(repository)}/records/aaaaa-bbbbb/draft", headers=headers)
        assert missing.status_code == 404
        assert missing.json() == {
            "status": 404,
            "message": "The persistent identifier does not exist.",
        }
    record = published_record(api)
    public = httpx.get(f"{api_url(repository)}/records/{record['id']}", headers=unknown)
    assert public.status_code == 200  # an unknown token reads what anonymous may read
    with client_for(repository, repository.another_user()) as other:
        refused = other.get(url)
        assert refused.status_code == 403 and refused.json() == denied
        assert other.get(f"{url}/files").status_code == 403
        assert other.post(f"{url}/actions/publish").status_code == 403
    by_query = httpx.get(url, params={"access_token": repository.token})
    assert by_query.status_code == 200


def test_cookies_without_a_token_need_a_csrf_token(repository: RepositoryUnderTest) -> None:
    """The home page starts a session; a change carrying its cookie needs a token or a CSRF echo."""
    with httpx.Client(base_url=api_url(repository)) as browser:
        home = browser.get(repository.url + "/")
        assert set(home.cookies) == {"session"}
        refused = browser.post("/records", json={"metadata": {}})
        assert refused.status_code == 400
        assert refused.json() == {"status": 400, "message": "CSRF cookie not set."}
        assert "csrftoken" in browser.cookies  # handed out with the refusal
        again = browser.post("/records", json={"metadata": {}})
        assert again.json() == {"status": 400, "message": "CSRF token missing or incorrect."}
        echoed = {"X-CSRFToken": browser.cookies["csrftoken"]}
        # past the CSRF check, the anonymous caller meets the permission check
        assert browser.post("/records", json={"metadata": {}}, headers=echoed).status_code == 403
        assert browser.get("/records").status_code == 200  # reading is never checked
        token = {"Authorization": f"Bearer {repository.token}"}
        assert browser.post("/records", json={"metadata": {}}, headers=token).status_code == 201
    with httpx.Client(base_url=api_url(repository)) as stranger:
        stranger.cookies.set("session", "x")
        refused = stranger.post("/records", json={"metadata": {}})
        assert refused.json() == {"status": 400, "message": "CSRF cookie not set."}


def test_csrf_can_be_switched_off(local_repository_factory: Any) -> None:
    repo = local_repository_factory(csrf=False)
    with httpx.Client(base_url=repo.api_url) as browser:
        assert not browser.get(repo.url + "/").cookies
        browser.cookies.set("session", "x")
        assert browser.post("/records", json={"metadata": {}}).status_code == 403


def test_content_type_and_bad_json(api: httpx.Client) -> None:
    wrong = api.post("/records", content=b"{}", headers={"Content-Type": "text/plain"})
    assert wrong.status_code == 415
    assert wrong.json() == {
        "status": 415,
        "message": "Invalid 'Content-Type' header. Expected one of: application/json, "
        'application/ld+json;profile="https://w3id.org/ro/crate/1.1"',
    }
    broken = api.post("/records", content=b"{", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    assert broken.json()["message"] == "Unable to decode JSON data in request body."
    # a body that is no object fails inside InvenioRDM: a bare 500
    not_object = api.post("/records", json=[1])
    assert not_object.status_code == 500
    empty = api.post("/records", content=b"", headers={"Content-Type": "application/json"})
    assert empty.status_code == 201 and "errors" not in empty.json()


def test_unknown_routes(api: httpx.Client) -> None:
    assert api.get("/nothing-here").json()["status"] == 404
    assert api.patch("/records").status_code == 405


def test_local_users_are_separate(repo: LocalRepository) -> None:
    with client_for(repo, repo.add_user("bob")) as bob:
        assert bob.get("/user/records").json()["hits"]["total"] == 0
