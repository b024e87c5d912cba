"""httpcore connection pools whose idle checks never take a connection that is in use.

httpcore 1.0.9's pool looks at every connection whenever a request arrives or a
response ends (``_assign_requests_to_connections``): an idle connection whose
keep-alive has run out, or whose socket is readable (the server hung up), is
removed and closed. The look is taken under the pool's lock but not under the
connection's own, while the thread that was just handed that connection starts
its request under the connection's lock only. So the looking thread can read
"idle" before the request starts and "readable" once that request's answer is
arriving, and then close the socket under the other thread's feet (httpcore
issue 1110). The same holds for a connection that the pool closes to make room.

Each connection made here is wrapped so that claiming it for a request and
judging it idle or expired are decided under one lock: a request that has
claimed the connection makes every judgement "in use", a verdict reached while
a request was claiming it is discarded, and a connection the pool has retired
refuses new requests (the pool then picks another) and is closed only once the
request on it, if any, has finished.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

import anyio
import httpcore

from nrpfiles._h11_buffer import lean_body_reads


class _Claims:
    """Who holds a connection, shared by the sync and async wrappers.

    Only ever held for a few attribute reads, never across I/O or an ``await``,
    so a threading lock serves the async flavour too.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        # Bumped by each claim: a verdict reached while it changed is stale.
        self.generation = 0
        self.retired = False

    def claim(self) -> None:
        with self.lock:
            if self.retired:
                raise httpcore.ConnectionNotAvailable()
            self.active += 1
            self.generation += 1

    def release(self) -> bool:
        """Whether the connection must now be closed (it was retired while in use)."""
        with self.lock:
            self.active -= 1
            return self.retired and self.active == 0

    def unclaimed_generation(self) -> int | None:
        with self.lock:
            return None if self.active or self.retired else self.generation

    def confirm_expired(self, generation: int) -> bool:
        """Retire the connection if nothing claimed it since ``generation`` was read."""
        with self.lock:
            if self.active or self.retired or self.generation != generation:
                return False
            self.retired = True
            return True

    def retire(self) -> bool:
        """Refuse new requests; whether it may be closed at once (nothing runs on it)."""
        with self.lock:
            self.retired = True
            return self.active == 0

    def is_free(self) -> bool:
        with self.lock:
            return not self.active and not self.retired


class GuardedConnection(httpcore.ConnectionInterface):
    """A pooled connection that another thread's idle check cannot take away mid-request."""

    def __init__(self, connection: httpcore.ConnectionInterface) -> None:
        self._connection = connection
        self._claims = _Claims()
        self._lean = False

    def handle_request(self, request: httpcore.Request) -> httpcore.Response:
        self._claims.claim()
        try:
            response = self._connection.handle_request(request)
        except BaseException:
            self._release()
            raise
        self._lean = self._lean or lean_body_reads(self._connection)
        return httpcore.Response(
            status=response.status,
            headers=response.headers,
            content=_ReleasingStream(response, self),
            extensions=response.extensions,
        )

    def _release(self) -> None:
        if self._claims.release():
            self._connection.close()

    def has_expired(self) -> bool:
        generation = self._claims.unclaimed_generation()
        if generation is None:
            return False
        # Outside the lock: a request may claim the connection meanwhile, and then
        # a readable socket is its answer arriving, not the server hanging up.
        return self._connection.has_expired() and self._claims.confirm_expired(generation)

    def close(self) -> None:
        if self._claims.retire():
            self._connection.close()

    def is_idle(self) -> bool:
        return self._claims.is_free() and self._connection.is_idle()

    def is_available(self) -> bool:
        return self._claims.is_free() and self._connection.is_available()

    def is_closed(self) -> bool:
        return self._connection.is_closed()

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return self._connection.can_handle_request(origin)

    def info(self) -> str:
        return self._connection.info()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._connection!r}>"


class _ReleasingStream:
    def __init__(self, response: httpcore.Response, connection: GuardedConnection) -> None:
        self._response = response
        self._connection = connection
        self._released = False

    def __iter__(self) -> Iterator[bytes]:
        assert isinstance(self._response.stream, Iterable)
        yield from self._response.stream

    def close(self) -> None:
        try:
            self._response.close()
        finally:
            if not self._released:
                self._released = True
                self._connection._release()


class AsyncGuardedConnection(httpcore.AsyncConnectionInterface):
    """The async mirror of ``GuardedConnection``, for tasks and threads sharing a pool."""

    def __init__(self, connection: httpcore.AsyncConnectionInterface) -> None:
        self._connection = connection
        self._claims = _Claims()
        self._lean = False

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        self._claims.claim()
        try:
            response = await self._connection.handle_async_request(request)
        except BaseException:
            # A cancelled request must still close a connection retired meanwhile.
            with anyio.CancelScope(shield=True):
                await self._release()
            raise
        self._lean = self._lean or lean_body_reads(self._connection)
        return httpcore.Response(
            status=response.status,
            headers=response.headers,
            content=_AsyncReleasingStream(response, self),
            extensions=response.extensions,
        )

    async def _release(self) -> None:
        if self._claims.release():
            await self._connection.aclose()

    def has_expired(self) -> bool:
        generation = self._claims.unclaimed_generation()
        if generation is None:
            return False
        return self._connection.has_expired() and self._claims.confirm_expired(generation)

    async def aclose(self) -> None:
        if self._claims.retire():
            await self._connection.aclose()

    def is_idle(self) -> bool:
        return self._claims.is_free() and self._connection.is_idle()

    def is_available(self) -> bool:
        return self._claims.is_free() and self._connection.is_available()

    def is_closed(self) -> bool:
        return self._connection.is_closed()

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return self._connection.can_handle_request(origin)

    def info(self) -> str:
        return self._connection.info()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._connection!r}>"


class _AsyncReleasingStream:
    def __init__(self, response: httpcore.Response, connection: AsyncGuardedConnection) -> None:
        self._response = response
        self._connection = connection
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self._response.stream, AsyncIterable)
        async for part in self._response.stream:
            yield part

    async def aclose(self) -> None:
        try:
            await self._response.aclose()
        finally:
            if not self._released:
                self._released = True
                await self._connection._release()


class ConnectionPool(httpcore.ConnectionPool):
    def create_connection(self, origin: httpcore.Origin) -> httpcore.ConnectionInterface:
        return GuardedConnection(super().create_connection(origin))


class HTTPProxyPool(httpcore.HTTPProxy):
    def create_connection(self, origin: httpcore.Origin) -> httpcore.ConnectionInterface:
        return GuardedConnection(super().create_connection(origin))


class SOCKSProxyPool(httpcore.SOCKSProxy):
    def create_connection(self, origin: httpcore.Origin) -> httpcore.ConnectionInterface:
        return GuardedConnection(super().create_connection(origin))


class AsyncConnectionPool(httpcore.AsyncConnectionPool):
    def create_connection(self, origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        return AsyncGuardedConnection(super().create_connection(origin))


class AsyncHTTPProxyPool(httpcore.AsyncHTTPProxy):
    def create_connection(self, origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        return AsyncGuardedConnection(super().create_connection(origin))


class AsyncSOCKSProxyPool(httpcore.AsyncSOCKSProxy):
    def create_connection(self, origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        return AsyncGuardedConnection(super().create_connection(origin))
