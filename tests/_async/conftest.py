"""Fixtures for tests against the local repository: a client and a draft to work on."""

from __future__ import annotations

import pytest_asyncio

from nrpfiles import AsyncClient, RetryPolicy

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


@pytest_asyncio.fixture
async def client(repository):
    async with AsyncClient(repository.url, token=repository.token, retry=FAST_RETRIES) as client:
        yield client


@pytest_asyncio.fixture
async def draft(client):
    return await client.records.create(PUBLISHABLE)
