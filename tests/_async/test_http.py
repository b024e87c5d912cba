"""The HTTP core: token scoping, redirects, retries, error mapping, timeouts (mocked HTTP)."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest
import pytest_asyncio

from nrpfiles import AsyncClient, RetryPolicy
from nrpfiles._pacing import RESET_MARGIN, Pacer
from nrpfiles.errors import (
    DoesNotExistError,
    PermissionDeniedError,
    RateLimitedError,
    RepositoryCommunicationError,
    RepositoryServerError,
    ValidationError,
)

ROOT = "https://repo.example.org"
TOKEN = "s3cr3t-token-value"
NO_WAIT = RetryPolicy(attempts=3, initial_wait=0, max_wait=0, jitter=False)


@pytest_asyncio.fixture
async def client():
    async with AsyncClient(ROOT, token=TOKEN, retry=NO_WAIT) as client:
        yield client


@pytest.fixture
def sleeps(client):
    """Waits are recorded, not slept: they move a clock of the client's pacer instead."""
    recorded = []
    clock = [1000.0]
    client._http._pacer = Pacer(lambda: clock[0])

    async def record_sleep(seconds):
        recorded.append(seconds)
        clock[0] += seconds

    client._http._sleep = record_sleep
    return recorded


def until(reset: int, read_at: float) -> float:
    """The wait for a window ending at epoch second ``reset``, the clock read at ``read_at``.

    The client reads its clock somewhere between the test's ``now`` (the longest
    wait) and the end of the call (the shortest): a fixed figure such as 29 s
    fails whenever the fraction of the second ``now`` fell in, plus the call's
    own time, passes a second.
    """
    return reset + RESET_MARGIN - read_at


def bearer(request: httpx.Request) -> str | None:
    return request.headers.get("Authorization")


async def test_token_goes_to_the_repository_origin(client, respx_mock):
    route = respx_mock.get(f"{ROOT}/api/records/abc").respond(200, json={"id": "abc"})
    body, _ = await client._http.request_json("GET", f"{ROOT}/api/records/abc")
    assert body == {"id": "abc"}
    assert bearer(route.calls.last.request) == f"Bearer {TOKEN}"
    assert route.calls.last.request.headers["User-Agent"].startswith("nrpfiles/")


@pytest.mark.parametrize(
    "elsewhere",
    [
        "https://storage.example.net/bucket/obj",  # another host
        "https://repo.example.org:8443/obj",  # same host, another port
        "http://repo.example.org/obj",  # same host, plain http
        "https://evil.repo.example.org.attacker.net/obj",  # lookalike host
    ],
)
async def test_token_never_follows_a_redirect_to_another_origin(client, respx_mock, elsewhere):
    respx_mock.get(f"{ROOT}/api/records/abc/files/a/content").respond(
        302, headers={"Location": elsewhere}
    )
    target = respx_mock.get(elsewhere).respond(200, content=b"payload")
    response = await client._http.request("GET", f"{ROOT}/api/records/abc/files/a/content")
    assert response.content == b"payload"
    assert bearer(target.calls.last.request) is None


async def test_token_never_goes_to_another_host_directly(client, respx_mock):
    part = respx_mock.put("https://s3.example.net/part/1").respond(200)
    await client._http.request("PUT", "https://s3.example.net/part/1", content=b"x")
    assert bearer(part.calls.last.request) is None


async def test_a_caller_supplied_authorization_header_is_dropped_off_origin(client, respx_mock):
    part = respx_mock.get("https://s3.example.net/x").respond(200)
    await client._http.request(
        "GET", "https://s3.example.net/x", headers={"Authorization": "Bearer leaked"}
    )
    assert bearer(part.calls.last.request) is None


async def test_redirect_within_the_repository_keeps_the_token(client, respx_mock):
    respx_mock.get(f"{ROOT}/api/old").respond(301, headers={"Location": "/api/new"})
    new = respx_mock.get(f"{ROOT}/api/new").respond(200, json={})
    await client._http.request("GET", f"{ROOT}/api/old")
    assert bearer(new.calls.last.request) == f"Bearer {TOKEN}"


async def test_503_is_retried_and_logged_without_the_token(client, respx_mock, sleeps, caplog):
    url = f"{ROOT}/api/records/abc?access_token={TOKEN}"
    route = respx_mock.get(url).mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json={"ok": True})]
    )
    with caplog.at_level(logging.WARNING, logger="nrpfiles"):
        body, _ = await client._http.request_json("GET", url)
    assert body == {"ok": True}
    assert route.call_count == 2
    assert len(sleeps) == 1
    [record] = [r for r in caplog.records if r.name == "nrpfiles"]
    text = record.getMessage()
    assert "GET" in text and "/api/records/abc" in text and "503" in text
    assert TOKEN not in text


async def test_retry_after_in_seconds_is_honoured(client, respx_mock, sleeps):
    respx_mock.get(f"{ROOT}/api/x").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}, json={"status": 429}),
            httpx.Response(200, json={}),
        ]
    )
    await client._http.request("GET", f"{ROOT}/api/x")
    assert sleeps == [7.0]


async def test_retry_after_as_http_date_is_honoured(client, respx_mock, sleeps):
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    respx_mock.get(f"{ROOT}/api/x").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": format_datetime(when, usegmt=True)}),
            httpx.Response(200, json={}),
        ]
    )
    await client._http.request("GET", f"{ROOT}/api/x")
    assert len(sleeps) == 1
    assert 25 <= sleeps[0] <= 31


async def test_rate_limit_that_persists_raises_rate_limited(client, respx_mock, sleeps):
    route = respx_mock.get(f"{ROOT}/api/x").respond(
        429, headers={"Retry-After": "1"}, json={"status": 429, "message": "Too many requests."}
    )
    with pytest.raises(RateLimitedError) as caught:
        await client._http.request("GET", f"{ROOT}/api/x")
    assert route.call_count == NO_WAIT.attempts
    assert caught.value.status == 429
    assert caught.value.retry_after == 1.0
    assert "Too many requests." in str(caught.value)


async def test_retry_after_longer_than_allowed_gives_up_at_once(client, respx_mock, sleeps):
    route = respx_mock.get(f"{ROOT}/api/x").respond(429, headers={"Retry-After": "86400"})
    with pytest.raises(RateLimitedError):
        await client._http.request("GET", f"{ROOT}/api/x")
    assert route.call_count == 1
    assert sleeps == []


async def test_server_errors_give_up_after_the_configured_attempts(client, respx_mock, sleeps):
    route = respx_mock.get(f"{ROOT}/api/x").respond(502, text="<html>Bad Gateway</html>")
    with pytest.raises(RepositoryServerError) as caught:
        await client._http.request("GET", f"{ROOT}/api/x")
    assert route.call_count == 3
    assert len(sleeps) == 2
    assert caught.value.status == 502
    assert "Bad Gateway" in str(caught.value)


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_post_is_not_replayed_when_the_server_may_have_acted(client, respx_mock, status):
    route = respx_mock.post(f"{ROOT}/api/records").respond(status)
    with pytest.raises(RepositoryServerError):
        await client._http.request("POST", f"{ROOT}/api/records", json={})
    assert route.call_count == 1


async def test_post_is_replayed_on_503(client, respx_mock, sleeps):
    route = respx_mock.post(f"{ROOT}/api/records").mock(
        side_effect=[httpx.Response(503), httpx.Response(201, json={"id": "n"})]
    )
    body, response = await client._http.request_json("POST", f"{ROOT}/api/records", json={})
    assert response.status_code == 201 and body == {"id": "n"}
    assert route.call_count == 2


async def test_post_known_safe_to_repeat_is_replayed_on_500(client, respx_mock, sleeps):
    route = respx_mock.post(f"{ROOT}/api/commit").mock(
        side_effect=[httpx.Response(500), httpx.Response(200, json={})]
    )
    await client._http.request("POST", f"{ROOT}/api/commit", idempotent=True)
    assert route.call_count == 2


async def test_post_is_replayed_when_the_connection_was_never_made(client, respx_mock, sleeps):
    route = respx_mock.post(f"{ROOT}/api/records").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json={})]
    )
    await client._http.request("POST", f"{ROOT}/api/records", json={})
    assert route.call_count == 2


async def test_post_is_not_replayed_after_a_read_timeout(client, respx_mock, sleeps):
    route = respx_mock.post(f"{ROOT}/api/records").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(RepositoryCommunicationError):
        await client._http.request("POST", f"{ROOT}/api/records", json={})
    assert route.call_count == 1


async def test_get_timeouts_are_retried_then_reported(client, respx_mock, sleeps):
    route = respx_mock.get(f"{ROOT}/api/x").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(RepositoryCommunicationError) as caught:
        await client._http.request("GET", f"{ROOT}/api/x")
    assert route.call_count == 3
    assert "ReadTimeout" in str(caught.value)
    assert "/api/x" in str(caught.value)


async def test_client_errors_are_not_retried_and_map_to_classes(client, respx_mock):
    respx_mock.get(f"{ROOT}/api/gone").respond(
        404, json={"status": 404, "message": "The persistent identifier does not exist."}
    )
    respx_mock.get(f"{ROOT}/api/secret").respond(
        403, json={"status": 403, "message": "Permission denied."}
    )
    invalid = respx_mock.put(f"{ROOT}/api/draft").respond(
        400,
        json={
            "status": 400,
            "message": "A validation error occurred.",
            "errors": [{"field": "metadata.title", "messages": ["Missing data."]}],
        },
    )
    with pytest.raises(DoesNotExistError, match="persistent identifier"):
        await client._http.request("GET", f"{ROOT}/api/gone")
    with pytest.raises(PermissionDeniedError):
        await client._http.request("GET", f"{ROOT}/api/secret")
    with pytest.raises(ValidationError) as caught:
        await client._http.request("PUT", f"{ROOT}/api/draft", json={})
    assert invalid.call_count == 1
    assert caught.value.errors[0].field == "metadata.title"


async def test_token_is_in_no_repr_and_no_error_text(client, respx_mock, sleeps):
    respx_mock.get(f"{ROOT}/api/x").respond(500, text=f"echo Bearer {TOKEN}?")
    assert TOKEN not in repr(client)
    assert TOKEN not in repr(client._http)
    with pytest.raises(RepositoryServerError) as caught:
        await client._http.request("GET", f"{ROOT}/api/x?access_token={TOKEN}")
    # the server's own echo aside, the URL and headers never carry it into the text
    assert f"access_token={TOKEN}" not in str(caught.value)
    assert f"access_token={TOKEN}" not in repr(caught.value)


async def test_timeouts_are_explicit_and_configurable():
    async with AsyncClient(ROOT, timeout=12.5, connect_timeout=3.0) as client:
        timeout = client._http._client.timeout
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (3.0, 12.5, 12.5, 12.5)


async def test_a_timeout_reaching_the_transport_becomes_a_communication_error(respx_mock):
    async with AsyncClient(ROOT, retry=RetryPolicy(attempts=1)) as client:
        respx_mock.get(f"{ROOT}/api/x").mock(side_effect=httpx.ConnectTimeout("slow connect"))
        with pytest.raises(RepositoryCommunicationError):
            await client._http.request("GET", f"{ROOT}/api/x")


async def test_plain_http_token_to_a_remote_host_warns():
    with pytest.warns(UserWarning, match="unencrypted"):
        client = AsyncClient("http://repo.example.org", token=TOKEN)
    await client.aclose()


async def test_plain_http_token_to_loopback_does_not_warn(recwarn):
    client = AsyncClient("http://127.0.0.1:5000", token=TOKEN)
    await client.aclose()
    assert not [w for w in recwarn if "unencrypted" in str(w.message)]


class _BreaksMidBody(httpx.AsyncByteStream):
    """A body that stops halfway, as a connection cut by the server does."""

    async def __aiter__(self):
        yield b'{"hits": '
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


async def test_a_body_cut_halfway_is_asked_for_again_when_safe(client, respx_mock, sleeps):
    route = respx_mock.get(f"{ROOT}/api/records").mock(
        side_effect=[
            httpx.Response(200, stream=_BreaksMidBody()),
            httpx.Response(200, json={"hits": {"hits": [], "total": 0}}),
        ]
    )
    body, _ = await client._http.request_json("GET", f"{ROOT}/api/records")
    assert body == {"hits": {"hits": [], "total": 0}}
    assert route.call_count == 2


async def test_a_body_cut_halfway_is_not_replayed_for_an_unsafe_post(client, respx_mock, sleeps):
    route = respx_mock.post(f"{ROOT}/api/records").mock(
        side_effect=[httpx.Response(201, stream=_BreaksMidBody())]
    )
    with pytest.raises(RepositoryCommunicationError, match="RemoteProtocolError"):
        await client._http.request_json("POST", f"{ROOT}/api/records", json={})
    assert route.call_count == 1


async def test_requests_to_the_repository_are_paced_to_its_announced_limit(
    client, respx_mock, sleeps, caplog
):
    waits = sleeps
    now = datetime.now(timezone.utc)
    reset = int(now.timestamp()) + 4
    spent = {
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(reset),
        "Date": format_datetime(now, usegmt=True),
    }
    respx_mock.get(f"{ROOT}/api/x").respond(200, json={}, headers=spent)
    storage = respx_mock.get("https://storage.example.net/object").respond(200)
    caplog.set_level(logging.DEBUG, logger="nrpfiles")
    await client._http.request("GET", f"{ROOT}/api/x")
    await client._http.request("GET", "https://storage.example.net/object")
    assert waits == [] and storage.called  # storage does not count against the limit
    await client._http.request("GET", f"{ROOT}/api/x")
    # Until the reset (whole seconds, on the local clock) and the margin for its rounding.
    assert until(reset, time.time()) <= sum(waits) <= until(reset, now.timestamp())
    pacing = [r for r in caplog.records if "rate limit" in r.getMessage()]
    assert pacing and all(r.levelno == logging.DEBUG for r in pacing)


async def test_a_429_without_retry_after_waits_until_the_window_resets(
    client, respx_mock, sleeps
):
    now = datetime.now(timezone.utc)
    reset = int(now.timestamp()) + 30
    refused = httpx.Response(
        429,
        json={"status": 429, "message": "Too many requests."},
        headers={
            "X-RateLimit-Limit": "100",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset),
            "Date": format_datetime(now, usegmt=True),
        },
    )
    respx_mock.get(f"{ROOT}/api/x").mock(side_effect=[refused, httpx.Response(200, json={})])
    await client._http.request("GET", f"{ROOT}/api/x")
    assert until(reset, time.time()) <= sum(sleeps) <= until(reset, now.timestamp())
