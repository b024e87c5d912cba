"""The async pool's connection guard: what the pool may do to a connection in use."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import httpcore
import pytest

from nrpfiles._pool import AsyncGuardedConnection

ORIGIN = httpcore.Origin(b"http", b"example.org", 80)
REQUEST = httpcore.Request("GET", "http://example.org/")


class Body:
    def __init__(self) -> None:
        self.closed = False

    async def __aiter__(self):
        yield b"body"

    async def aclose(self) -> None:
        self.closed = True


class Connection(httpcore.AsyncConnectionInterface):
    """A stand-in for httpcore's connection: answers at once, or blocks when told."""

    def __init__(self) -> None:
        self.closed = False
        self.expired = False
        self.answering = anyio.Event()
        self.block = False

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        self.answering.set()
        if self.block:
            await anyio.sleep_forever()
        return httpcore.Response(200, content=Body())

    async def aclose(self) -> None:
        await anyio.lowlevel.checkpoint()  # as a close that says goodbye first would
        self.closed = True

    def has_expired(self) -> bool:
        return self.expired

    def is_idle(self) -> bool:
        return not self.closed

    def is_available(self) -> bool:
        return not self.closed

    def is_closed(self) -> bool:
        return self.closed

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return origin == ORIGIN

    def info(self) -> str:
        return "stand-in"


async def test_a_connection_closed_by_the_pool_mid_response_closes_when_the_response_ends():
    inner = Connection()
    guarded = AsyncGuardedConnection(inner)
    response = await guarded.handle_async_request(REQUEST)
    inner.expired = True
    assert not guarded.has_expired() and not guarded.is_idle() and not guarded.is_available()
    await guarded.aclose()  # the pool gives it up while the answer is being read
    assert not inner.closed
    with pytest.raises(httpcore.ConnectionNotAvailable):
        await guarded.handle_async_request(REQUEST)
    assert [part async for part in response.stream] == [b"body"]
    await response.aclose()
    assert inner.closed


async def test_an_idle_expired_connection_is_retired_and_refuses_requests():
    inner = Connection()
    guarded = AsyncGuardedConnection(inner)
    await (await guarded.handle_async_request(REQUEST)).aclose()
    assert guarded.is_idle() and not guarded.has_expired()
    inner.expired = True
    assert guarded.has_expired()
    with pytest.raises(httpcore.ConnectionNotAvailable):
        await guarded.handle_async_request(REQUEST)
    await guarded.aclose()
    assert inner.closed


async def test_a_cancelled_request_closes_a_connection_retired_meanwhile():
    inner = Connection()
    inner.block = True
    guarded = AsyncGuardedConnection(inner)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(guarded.handle_async_request, REQUEST)
        await inner.answering.wait()
        await guarded.aclose()
        assert not inner.closed  # a request runs on it
        tasks.cancel_scope.cancel()
    assert inner.closed
