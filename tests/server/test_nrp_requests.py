"""The nrp profile over real sockets: discovery as oarepo-runtime, publishing through requests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from nrpfiles.testing import LocalRepository

from .conftest import client_for, create_draft, upload


@pytest.fixture
def nrp(local_repository_factory: Callable[..., LocalRepository]) -> LocalRepository:
    return local_repository_factory(profile="nrp")


@pytest.fixture
def nrp_api(nrp: LocalRepository) -> Iterator[httpx.Client]:
    with client_for(nrp) as client:
        yield client


def _draft_with_a_file(api: httpx.Client) -> dict[str, Any]:
    draft = create_draft(api)
    upload(api, draft["id"], "data.bin", b"0123456789")
    return dict(api.get(f"/records/{draft['id']}/draft", params={"expand": "true"}).json())


def _create(api: httpx.Client, record: dict[str, Any], type_id: str) -> dict[str, Any]:
    types = api.get(record["links"]["applicable_requests"]).json()
    by_type = {hit["type_id"]: hit for hit in types["hits"]["hits"]}
    assert type_id in by_type, types
    response = api.post(by_type[type_id]["links"]["actions"]["create"], json={})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _act(api: httpx.Client, request: dict[str, Any], action: str) -> dict[str, Any]:
    response = api.post(request["links"]["actions"][action], json={})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_discovery_document_and_models_as_oarepo_runtime(nrp: LocalRepository) -> None:
    # nrp-cmd reads it under the API, where oarepo-runtime also registers it
    under_api = httpx.get(f"{nrp.api_url}/.well-known/repository/").json()
    assert under_api["links"]["self"] == f"{nrp.api_url}/.well-known/repository/"
    document = httpx.get(f"{nrp.url}/.well-known/repository").json()
    assert set(document["links"]) == {"self", "api", "models", "requests"}
    assert document["links"]["requests"] == f"{nrp.api_url}/requests/"
    assert {"drafts", "requests", "request_types"} <= set(document["features"])
    models = httpx.get(document["links"]["models"]).json()
    assert models[0]["type"] == models[0]["name"] == document["default_model"]
    assert "requests" in models[0]["features"]
    assert set(models[0]["links"]) >= {"records", "drafts", "deposit", "html"}


def test_direct_actions_are_refused(nrp_api: httpx.Client) -> None:
    draft = _draft_with_a_file(nrp_api)
    assert nrp_api.post(draft["links"]["publish"]).status_code == 403
    request = _act(nrp_api, _create(nrp_api, draft, "publish_draft"), "submit")
    _act(nrp_api, request, "accept")
    assert nrp_api.post(f"/records/{draft['id']}/draft").status_code == 403
    assert nrp_api.post(f"/records/{draft['id']}/versions").status_code == 403


def test_publish_through_a_request_the_owner_accepts(nrp_api: httpx.Client) -> None:
    draft = _draft_with_a_file(nrp_api)
    assert draft["expanded"]["requests"] == []
    assert [t["type_id"] for t in draft["expanded"]["request_types"]] == ["publish_draft"]
    created = _create(nrp_api, draft, "publish_draft")
    assert created["status"] == "created" and created["is_open"] is True
    assert created["type"] == "publish_draft"
    assert created["topic"] == {"record": draft["id"]}
    assert set(created["links"]["actions"]) == {"submit"}
    # one open request of a type at a time
    listed = nrp_api.get(draft["links"]["applicable_requests"]).json()
    assert listed["hits"]["total"] == 0
    expanded = nrp_api.get(draft["links"]["self"], params={"expand": "1"}).json()
    assert [r["id"] for r in expanded["expanded"]["requests"]] == [created["id"]]

    submitted = _act(nrp_api, created, "submit")
    assert submitted["status"] == "submitted"
    assert set(submitted["links"]["actions"]) == {"accept", "decline", "cancel"}
    accepted = _act(nrp_api, submitted, "accept")
    assert accepted["status"] == "accepted" and accepted["is_closed"] is True
    assert accepted["links"]["actions"] == {}
    record_url = f"{str(nrp_api.base_url).rstrip('/')}/records/{draft['id']}"
    assert accepted["links"]["topic"]["self"] == record_url
    assert accepted["payload"]["published_record:links:self"] == record_url
    record = nrp_api.get(record_url).json()
    assert record["is_published"] is True
    # the request is read back as it was answered, at both of its addresses
    for url in (accepted["links"]["self"], f"/requests/{accepted['id']}"):
        assert nrp_api.get(url).json()["status"] == "accepted"


def test_edit_and_new_version_through_requests(nrp_api: httpx.Client) -> None:
    draft = _draft_with_a_file(nrp_api)
    _act(nrp_api, _act(nrp_api, _create(nrp_api, draft, "publish_draft"), "submit"), "accept")
    record = nrp_api.get(f"/records/{draft['id']}", params={"expand": "true"}).json()
    types = {t["type_id"] for t in record["expanded"]["request_types"]}
    assert types == {"edit_published_record", "new_version"}

    edit = _act(nrp_api, _act(nrp_api, _create(nrp_api, record, "edit_published_record"), "submit"), "accept")
    edit_draft = nrp_api.get(edit["payload"]["draft_record:links:self"]).json()
    assert edit_draft["id"] == record["id"] and edit_draft["is_draft"] is True

    version = _act(nrp_api, _act(nrp_api, _create(nrp_api, record, "new_version"), "submit"), "accept")
    new_draft = nrp_api.get(version["payload"]["draft_record:links:self"]).json()
    assert new_draft["id"] == version["payload"]["draft_record:id"] != record["id"]
    assert new_draft["status"] == "new_version_draft"


def test_review_leaves_the_request_submitted_for_someone_else(
    local_repository_factory: Callable[..., LocalRepository],
) -> None:
    repo = local_repository_factory(profile="nrp", publish_review=True)
    with client_for(repo) as owner, client_for(repo, repo.add_user("reviewer")) as reviewer:
        draft = _draft_with_a_file(owner)
        submitted = _act(owner, _create(owner, draft, "publish_draft"), "submit")
        assert submitted["receiver"] == {"group": "reviewers"}
        assert set(submitted["links"]["actions"]) == {"cancel"}
        assert owner.post(f"/requests/{submitted['id']}/actions/accept").status_code == 403
        seen = reviewer.get(f"/requests/{submitted['id']}").json()
        assert set(seen["links"]["actions"]) == {"accept", "decline"}
        declined = _act(reviewer, seen, "decline")
        assert declined["status"] == "declined"
        assert owner.get(draft["links"]["self"]).status_code == 200  # still a draft
        again = _act(owner, _create(owner, draft, "publish_draft"), "submit")
        accepted = _act(reviewer, reviewer.get(f"/requests/{again['id']}").json(), "accept")
        assert owner.get(accepted["links"]["topic"]["self"]).json()["is_published"] is True
        pending = owner.get("/requests/", params={"status": "declined"}).json()
        assert [r["id"] for r in pending["hits"]["hits"]] == [declined["id"]]


def test_a_refused_publish_leaves_the_request_submitted(nrp_api: httpx.Client) -> None:
    draft = create_draft(nrp_api)  # files enabled, none uploaded
    submitted = _act(nrp_api, _create(nrp_api, draft, "publish_draft"), "submit")
    response = nrp_api.post(submitted["links"]["actions"]["accept"])
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "files.enabled"
    assert nrp_api.get(submitted["links"]["self"]).json()["status"] == "submitted"
    cancelled = _act(nrp_api, submitted, "cancel")
    assert cancelled["status"] == "cancelled"


def test_plain_invenio_has_no_requests(local_api: httpx.Client) -> None:
    draft = create_draft(local_api)
    read = local_api.get(draft["links"]["self"], params={"expand": "true"}).json()
    assert "expanded" not in read and "applicable_requests" not in read["links"]
    assert local_api.get("/requests/").status_code == 404
    # the API's 404 for the document nrp-cmd looks for under /api
    missing = local_api.get("/.well-known/repository/")
    assert missing.status_code == 404 and missing.json()["status"] == 404


def test_a_joined_http_topic_link_reads_the_record(nrp_api: httpx.Client) -> None:
    """What nrp-cmd 1.0.1 asks for after accepting a request over plain http."""
    draft = _draft_with_a_file(nrp_api)
    accepted = _act(nrp_api, _act(nrp_api, _create(nrp_api, draft, "publish_draft"), "submit"), "accept")
    joined = f"/records/{accepted['links']['topic']['self']}/draft"
    response = nrp_api.get(joined, params={"expand": "1"})
    assert response.status_code == 200, response.text
    assert response.json()["id"] == draft["id"] and response.json()["is_published"] is True
