"""The zenodo profile's rate limits, over real sockets: fixed windows, per user and per
address, announced on every answer, and the 429s counted in ``/_local/stats``.

Windows are long where a case only counts (it never waits for them) and short where
it waits for one to end.
"""

from __future__ import annotations

import email.utils
import math
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from nrpfiles.testing import LocalRepository

from .conftest import OCTET, client_for, create_draft

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
Factory = Callable[..., LocalRepository]


def zenodo(factory: Factory, **options: Any) -> LocalRepository:
    return factory(profile="zenodo", **options)


def announced(response: httpx.Response) -> tuple[int, int, int]:
    limit, remaining, reset = (response.headers[name] for name in RATE_HEADERS)
    return int(limit), int(remaining), int(reset)


def test_every_answer_announces_the_limit(local_repository_factory: Factory) -> None:
    repo = zenodo(local_repository_factory, rate_limit=(10, 30.0))
    with client_for(repo) as api:
        before = time.time()
        created = api.post("/records", json={"metadata": {"title": "headers"}})
        after = time.time()
        missing = api.get("/records/nothing-here/draft")
        refused = api.get("/user/records", headers={"Authorization": "Bearer unknown"})
        bad = api.put(f"/records/{created.json()['id']}/draft", content=b"x")
    answers = [created, missing, refused, bad]
    assert [a.status_code for a in answers] == [201, 404, 403, 415]
    resets = set()
    for number, answer in enumerate(answers[:2] + answers[3:], start=1):
        limit, remaining, reset = announced(answer)
        assert (limit, remaining) == (10, 10 - number)
        resets.add(reset)
    # the window opened with the first request; its end is cut down to whole seconds
    (reset,) = resets
    assert int(before + 30) <= reset <= int(after + 30)
    # a guest (the unknown token) has a window of its own
    assert announced(refused)[:2] == (10, 9)
    for answer in answers:
        assert email.utils.parsedate_to_datetime(answer.headers["Date"]).timestamp() > 0


def test_429_with_retry_after(local_repository_factory: Factory) -> None:
    repo = zenodo(local_repository_factory, rate_limit=(3, 2.5))
    with client_for(repo) as api:
        started = time.time()
        answered = [api.get("/records") for _ in range(3)]
        opened = time.time()
        asked = time.time()
        refused = api.get("/records")
        done = time.time()
        again = api.get("/records")
    assert [a.status_code for a in answered] == [200, 200, 200]
    assert announced(answered[-1])[:2] == (3, 0)
    assert refused.status_code == 429
    assert refused.json() == {"status": 429, "message": "3 per 2.5 second"}
    assert announced(refused)[:2] == (3, 0)
    assert announced(refused)[2] == announced(answered[0])[2]
    retry_after = int(refused.headers["Retry-After"])
    # the seconds to the window's end, rounded up
    assert math.ceil(started + 2.5 - done) <= retry_after <= math.ceil(opened + 2.5 - asked)
    assert again.status_code == 429 and again.headers["Retry-After"]
    assert repo.stats["rate_limited"] == 2


def test_429_without_retry_after(local_repository_factory: Factory) -> None:
    repo = zenodo(local_repository_factory, rate_limit=(2, 30.0), rate_limit_retry_after=False)
    with client_for(repo) as api:
        answers = [api.get("/records") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "Retry-After" not in answers[-1].headers
    assert announced(answers[-1])[:2] == (2, 0)
    assert answers[-1].json()["status"] == 429


def test_the_window_ends_and_a_new_one_opens(local_repository_factory: Factory) -> None:
    repo = zenodo(local_repository_factory, rate_limit=(5, 1.0))
    with client_for(repo) as api:
        first = [api.get("/records") for _ in range(7)]
        assert [a.status_code for a in first] == [200] * 5 + [429] * 2
        time.sleep(max(0.0, announced(first[0])[2] + 1 - time.time()))
        later = [api.get("/records") for _ in range(5)]
    # the refused requests did not count: the new window has its whole allowance
    assert [a.status_code for a in later] == [200] * 5
    assert [announced(a)[1] for a in later] == [4, 3, 2, 1, 0]
    assert announced(later[0])[2] > announced(first[0])[2]


def test_counted_per_user_and_per_address(local_repository_factory: Factory) -> None:
    repo = zenodo(local_repository_factory, rate_limit=(3, 30.0), guest_rate_limit=(2, 30.0))
    other = repo.add_user("other")
    with client_for(repo) as first, client_for(repo, other) as second:
        assert [first.get("/records").status_code for _ in range(4)] == [200, 200, 200, 429]
        # another token is another user with a window of their own
        assert announced(second.get("/records"))[:2] == (3, 2)
    with client_for(repo, "") as guest, client_for(repo, "not-a-token") as unknown:
        assert announced(guest.get("/records"))[:2] == (2, 1)
        # a token the repository does not know is a guest, counted by address
        assert announced(unknown.get("/records"))[:2] == (2, 0)
        assert guest.get("/records").status_code == 429
    assert repo.stats["rate_limited"] == 2
    # another address is another guest (all of 127/8 is loopback where Linux runs this)
    if sys.platform.startswith("linux"):
        transport = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(base_url=repo.api_url, transport=transport) as elsewhere:
            assert announced(elsewhere.get("/records"))[:2] == (2, 1)


def test_rate_limit_alone_limits_guests_alike(local_repository_factory: Factory) -> None:
    repo = zenodo(local_repository_factory, rate_limit=(4, 30.0))
    assert repo.config.guest_rate_limit == repo.config.rate_limit
    with client_for(repo, "") as guest:
        assert announced(guest.get("/records"))[:2] == (4, 3)


def test_zenodo_limits_by_default(local_repository_factory: Factory) -> None:
    repo = zenodo(local_repository_factory)
    with client_for(repo) as api, client_for(repo, "") as guest:
        assert announced(api.get("/records"))[:2] == (100, 99)
        assert announced(guest.get("/records"))[:2] == (60, 59)
        # the home page is the site's too
        assert announced(guest.get(f"{repo.url}/"))[:2] == (60, 58)


def test_storage_and_admin_endpoints_are_not_limited(local_repository_factory: Factory) -> None:
    repo = zenodo(local_repository_factory, rate_limit=(5, 30.0), storage_redirect=True)
    with client_for(repo) as api:
        draft = create_draft(api)
        base = f"/records/{draft['id']}/draft/files"
        api.post(base, json=[{"key": "a.txt"}])
        api.put(f"{base}/a.txt/content", content=b"abc", headers=OCTET)
        api.post(f"{base}/a.txt/commit")
        redirect = api.get(f"{base}/a.txt/content")
        assert redirect.status_code == 302 and announced(redirect)[1] == 0
        assert api.get("/records").status_code == 429
        for _ in range(3):
            stored = httpx.get(redirect.headers["Location"])
            assert stored.status_code == 200 and stored.content == b"abc"
            assert "X-RateLimit-Limit" not in stored.headers
            stats = api.get(f"{repo.url}/_local/stats")
            assert stats.status_code == 200 and "X-RateLimit-Limit" not in stats.headers
    assert stats.json()["rate_limited"] == 1


def test_limiter_is_exact_under_concurrency(local_repository_factory: Factory) -> None:
    repo = zenodo(local_repository_factory, rate_limit=(25, 30.0))
    statuses: list[int] = []
    lock = threading.Lock()

    def send() -> None:
        with client_for(repo) as api:
            for _ in range(5):
                status = api.get("/records").status_code
                with lock:
                    statuses.append(status)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 25 + [429] * 15
    stats = repo.stats
    assert stats["rate_limited"] == 15 and stats["statuses"] == {"200": 25, "429": 15}


def test_stats_count_and_reset(local_repository_factory: Factory) -> None:
    repo = zenodo(local_repository_factory, rate_limit=(2, 30.0))
    stats_url = f"{repo.url}/_local/stats"
    with client_for(repo) as api:
        assert [api.get("/records").status_code for _ in range(3)] == [200, 200, 429]
        state = api.get(stats_url).json()
        assert state == {
            "requests": 3,
            "rate_limited": 1,
            "refused_user_agent": 0,
            "refused_multipart": 0,
            "statuses": {"200": 2, "429": 1},
        }
        assert repo.stats == state
        assert httpx.get(stats_url).status_code == 403
        with client_for(repo, repo.add_user("someone")) as other:
            assert other.get(stats_url).status_code == 403
        # a reset zeroes the counters, and the windows start again
        assert api.post(f"{repo.url}/_local/reset").status_code == 204
        assert api.get(stats_url).json()["requests"] == 0
        assert api.get("/records").status_code == 200
        repo.reset()
    assert repo.stats == {
        "requests": 0,
        "rate_limited": 0,
        "refused_user_agent": 0,
        "refused_multipart": 0,
        "statuses": {},
    }


def test_default_profile_announces_no_limit(local_api: httpx.Client, repo: LocalRepository) -> None:
    answers = [local_api.get("/records") for _ in range(3)] + [local_api.get("/records/x/draft")]
    assert [a.status_code for a in answers] == [200, 200, 200, 404]
    for answer in answers:
        assert not any(name.lower().startswith("x-ratelimit") for name in answer.headers)
        assert "Retry-After" not in answer.headers and answer.headers["Date"]
    assert repo.stats["requests"] == 4 and repo.stats["rate_limited"] == 0


@pytest.mark.parametrize("value", [(0, 5.0), (5, 0.0), "5", "a/b"])
def test_rate_limits_are_checked(value: Any) -> None:
    with pytest.raises(ValueError):
        LocalRepository(profile="zenodo", rate_limit=value)
