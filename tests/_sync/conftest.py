# Generated from tests/_async/conftest.py by scripts/gen_sync.py: do not edit.
# body-sha256: bd39da3289ad6d6af8007f878ab4c77041be67c49e4dac5e235ed93ff648201f
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
        "creators": [
            {"person_or_org": {"type": "personal", "family_name": "Doe", "given_name": "Jane"}}
        ],
    }
}


@pytest.fixture
def client(local_repository):
    with Client(
        local_repository.url, token=local_repository.token, retry=FAST_RETRIES
    ) as client:
        yield client


@pytest.fixture
def draft(client):
    return client.records.create(PUBLISHABLE)
