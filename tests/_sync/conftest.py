# Generated from tests/_async/conftest.py by scripts/gen_sync.py: do not edit.
# body-sha256: 560ecec94490ce999d974e86a94f84ef847b2275af7224241d0a33377064331a
"""Fixtures for tests against the local repository: a client and a draft to work on."""

from __future__ import annotations

import pytest

from nrpfiles import Client, RetryPolicy

FAST_RETRIES = RetryPolicy(attempts=4, initial_wait=0.01, max_wait=0.05)

PUBLISHABLE = {
    "metadata": {
        "title": "Research Dataset 2024",
        "resource_type": {"id": "dataset"},
        "publication_date": "2024-01-15",
        "publisher": "nrpfiles",
        "creators": [
            {"person_or_org": {"type": "personal", "family_name": "Doe", "given_name": "Jane"}}
        ],
    }
}


@pytest.fixture
def client(repository):
    with Client(repository.url, token=repository.token, retry=FAST_RETRIES) as client:
        yield client


@pytest.fixture
def draft(client):
    return client.records.create(PUBLISHABLE)
