"""Helpers for talking to a repository over real sockets with plain httpx.

Cases that describe InvenioRDM's behaviour take ``api``, ``anonymous`` and
``repository`` and run against every server ``--servers`` names: the local
repository and the real InvenioRDM. Cases about the local repository's own
switches, faults and admin endpoints take ``repo`` (the local repository) and
``local_api`` and run only where the local repository is among the servers.
A real repository keeps what earlier cases made, so cases look for their own
records rather than count everything.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from nrpfiles.testing import LocalRepository
from tests.servers import RepositoryUnderTest

OCTET = {"Content-Type": "application/octet-stream"}
# The top-level keys of a draft's JSON in InvenioRDM 14.
DRAFT_KEYS = {
    "access",
    "created",
    "custom_fields",
    "expires_at",
    "files",
    "id",
    "is_draft",
    "is_published",
    "links",
    "media_files",
    "metadata",
    "parent",
    "pids",
    "revision_id",
    "status",
    "updated",
    "versions",
}
METADATA: dict[str, Any] = {
    "title": "A dataset of measurements",
    "resource_type": {"id": "dataset"},
    "publication_date": "2024-01-15",
    "creators": [
        {"person_or_org": {"type": "personal", "family_name": "Doe", "given_name": "Jane"}}
    ],
}


def api_url(server: RepositoryUnderTest | LocalRepository) -> str:
    return server.url + "/api"


def client_for(
    server: RepositoryUnderTest | LocalRepository, token: str | None = None
) -> httpx.Client:
    """A client of the repository's API; ``token=""`` for an anonymous one."""
    headers = {} if token == "" else {"Authorization": f"Bearer {token or server.token}"}
    return httpx.Client(base_url=api_url(server), headers=headers, timeout=60)


def unique(word: str) -> str:
    """A word no other case's record holds: a real repository keeps them all."""
    return f"{word}{uuid.uuid4().hex[:10]}"


@pytest.fixture
def api(repository: RepositoryUnderTest) -> Iterator[httpx.Client]:
    with client_for(repository) as client:
        yield client


@pytest.fixture
def anonymous(repository: RepositoryUnderTest) -> Iterator[httpx.Client]:
    with client_for(repository, "") as client:
        yield client


@pytest.fixture
def repo(local_repository: LocalRepository) -> LocalRepository:
    return local_repository


@pytest.fixture
def local_api(repo: LocalRepository) -> Iterator[httpx.Client]:
    with client_for(repo) as client:
        yield client


def files_url(record_id: str) -> str:
    return f"/records/{record_id}/draft/files"


def create_draft(api: httpx.Client, **extra: Any) -> dict[str, Any]:
    response = api.post("/records", json={"metadata": dict(METADATA), **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


def upload(api: httpx.Client, record_id: str, key: str, data: bytes) -> dict[str, Any]:
    base = f"/records/{record_id}/draft/files"
    assert api.post(base, json=[{"key": key}]).status_code == 201
    assert api.put(f"{base}/{key}/content", content=data, headers=OCTET).status_code == 200
    response = api.post(f"{base}/{key}/commit")
    assert response.status_code == 200, response.text
    return dict(response.json())


def published_record(api: httpx.Client, files: dict[str, bytes] | None = None) -> dict[str, Any]:
    draft = create_draft(api)
    for key, data in (files or {"data.bin": b"0123456789"}).items():
        upload(api, draft["id"], key, data)
    if "applicable_requests" in draft["links"]:
        return publish_through_request(api, draft)
    response = api.post(f"/records/{draft['id']}/draft/actions/publish")
    assert response.status_code == 202, response.text
    return dict(response.json())


def publish_through_request(api: httpx.Client, draft: dict[str, Any]) -> dict[str, Any]:
    """Where requests publish (NRP): create publish_draft, submit and accept it as the owner."""
    types = api.get(draft["links"]["applicable_requests"]).json()["hits"]["hits"]
    create = next(t for t in types if t["type_id"] == "publish_draft")["links"]["actions"]["create"]
    request = api.post(create, json={}).json()
    for action in ("submit", "accept"):
        response = api.post(request["links"]["actions"][action], json={})
        assert response.status_code == 200, response.text
        request = response.json()
    return dict(api.get(request["links"]["topic"]["self"]).json())


def download(url: str, **kwargs: Any) -> httpx.Response:
    """The content behind a content link, following a storage redirect without the token."""
    return httpx.get(url, follow_redirects=True, **kwargs)
