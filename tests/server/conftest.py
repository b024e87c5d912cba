"""Helpers for talking to the local repository over real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from nrpfiles.testing import LocalRepository

OCTET = {"Content-Type": "application/octet-stream"}
METADATA: dict[str, Any] = {
    "title": "A dataset of measurements",
    "resource_type": {"id": "dataset"},
    "publication_date": "2024-01-15",
    "creators": [
        {"person_or_org": {"type": "personal", "family_name": "Doe", "given_name": "Jane"}}
    ],
}


def client_for(repository: LocalRepository, token: str | None = None) -> httpx.Client:
    headers = {} if token == "" else {"Authorization": f"Bearer {token or repository.token}"}
    return httpx.Client(base_url=repository.api_url, headers=headers, timeout=30)


@pytest.fixture
def repo(local_repository: LocalRepository) -> LocalRepository:
    return local_repository


@pytest.fixture
def api(repo: LocalRepository) -> Iterator[httpx.Client]:
    with client_for(repo) as client:
        yield client


@pytest.fixture
def anonymous(repo: LocalRepository) -> Iterator[httpx.Client]:
    with client_for(repo, "") as client:
        yield client


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
    response = api.post(f"/records/{draft['id']}/draft/actions/publish")
    assert response.status_code == 202, response.text
    return dict(response.json())
