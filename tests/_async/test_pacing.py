"""A client paced by Zenodo's announced rate limit: a burst goes through with nothing refused.

The local repository in its ``zenodo`` profile counts requests per token in
fixed windows, announces the limit on every answer and counts the 429s it
gives. The client must send nothing the server would refuse, and take barely
longer than the window allows. ``NRPFILES_PACING_SCALE`` sets how many small
files are uploaded and how many list calls are made (100 each by default:
a full Zenodo record's worth; 300 uploading requests and 100 lists through a
window of 30 requests per 5 seconds fill 14 windows and take at least 65 s).
"""

from __future__ import annotations

import math
import os
import time

import pytest

from nrpfiles import AsyncClient
from tests.parallel import async_run_all

WINDOW = (30, 5.0)
SCALE = int(os.environ.get("NRPFILES_PACING_SCALE", "100"))
WORKERS = 8  # tasks (async) or threads (sync) sharing one client
FILES_PER_RECORD = 100  # Zenodo's limit


def shortest(requests: int) -> float:
    """The least time ``requests`` take through the window: every window used to the full."""
    allowed, seconds = WINDOW
    return (math.ceil(requests / allowed) - 1) * seconds


@pytest.mark.pacing
async def test_a_burst_of_uploads_and_lists_is_never_refused_for_rate(local_repository_factory):
    repository = local_repository_factory(profile="zenodo", rate_limit=WINDOW)
    async with AsyncClient(repository.url, token=repository.token) as client:
        drafts = [
            await client.records.create({"title": f"Paced {n}"})
            for n in range(math.ceil(SCALE / FILES_PER_RECORD))
        ]
        before = repository.stats["requests"]
        started = time.monotonic()

        def worker(number: int):
            async def run() -> None:
                for index in range(number, SCALE, WORKERS):
                    draft = drafts[index // FILES_PER_RECORD]
                    await client.files.upload(draft, f"f{index}.txt", {}, b"%d" % index)
                    await client.files.list(draft)

            return run

        await async_run_all([worker(n) for n in range(WORKERS)])
        took = time.monotonic() - started
    stats = repository.stats
    sent = stats["requests"] - before
    assert stats["rate_limited"] == 0
    assert sent == 4 * SCALE  # init, content, commit and a list for each file: nothing resent
    assert took <= 1.3 * shortest(sent), f"{sent} requests took {took:.1f}s"
    print(f"{sent} requests in {took:.1f}s, {took / shortest(sent):.2f}x the shortest possible")
