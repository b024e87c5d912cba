"""An httpcore network stream on asyncio's own transport, for the async flavour under asyncio.

anyio's socket stream pauses its transport after every receive and resumes it
for the next one. Each read of a response body therefore waits for a fresh
pass of the event loop (two passes and two epoll changes per read, plus a
timeout scope), and returns one socket read at most. This stream keeps the
transport reading while the caller writes and hashes what it got, up to a
bound, so that a read mostly finds bytes waiting and takes them without a pass
of the loop. What it takes is the very bytes object a socket read made (up to
1 MiB a read): received into a buffer of our own, every byte would be copied
once more on its way out, under the GIL the thread hashing the download waits
for. Under trio the transports use anyio's stream as before.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from collections.abc import Iterable
from typing import Any

import httpcore
from httpcore._utils import is_socket_readable

# Buffered ahead of the reader before the transport stops reading: enough for
# a few socket reads of a fast link, flat however large the response.
_HIGH_WATER = 4 << 20
_LOW_WATER = 1 << 20
# What one socket read may bring (asyncio's transports read 256 KiB by default).
_RECEIVE_ROOM = 1 << 20
# httpcore reads response bodies this much at a time; smaller reads are protocol
# handshakes and must not take more than they ask for.
_BODY_READ = 64 << 10

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class _Protocol(asyncio.Protocol):
    """Keeps what the transport received, as it came; wakes the reader or writer waiting on it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._chunks: deque[bytes] = deque()
        self._taken = 0  # of the first chunk, by reads smaller than it
        self.buffered = 0
        self.eof = False
        self.error: BaseException | None = None
        self.connection_closed = False
        self._reading_paused = False
        self._readable: asyncio.Future[None] | None = None
        self._writing_paused = False
        self._writable: asyncio.Future[None] | None = None

    # -- asyncio's side ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if hasattr(transport, "max_size"):  # asyncio's socket transport: its recv() size
            transport.max_size = _RECEIVE_ROOM

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self.buffered += len(data)
        if self.buffered >= _HIGH_WATER and not self._reading_paused and self.transport:
            self._reading_paused = True
            self.transport.pause_reading()
        _wake(self._readable)

    def eof_received(self) -> bool:
        self.eof = True
        _wake(self._readable)
        return False  # close our side too: HTTP/1.1 has nothing to send after EOF

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.connection_closed = True
        if exc is not None:
            self.error = exc
        _wake(self._readable)
        _wake(self._writable)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        _wake(self._writable)

    # -- the stream's side -----------------------------------------------------------

    def take(self, max_bytes: int) -> bytes:
        """What the oldest socket read brought, uncopied when ``max_bytes`` allows it all."""
        first = self._chunks[0]
        if not self._taken and len(first) <= max_bytes:
            self._chunks.popleft()
            data = first
        else:
            data = first[self._taken : self._taken + max_bytes]
            self._taken += len(data)
            if self._taken == len(first):
                self._chunks.popleft()
                self._taken = 0
        self.buffered -= len(data)
        if self._reading_paused and self.buffered <= _LOW_WATER and self.transport:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    async def wait_readable(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        self._readable = loop.create_future()
        try:
            await _within(self._readable, timeout, loop)
        finally:
            self._readable = None

    async def wait_writable(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        self._writable = loop.create_future()
        try:
            await _within(self._writable, timeout, loop)
        finally:
            self._writable = None

    @property
    def writing_paused(self) -> bool:
        return self._writing_paused and self.error is None


def _wake(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


async def _within(
    future: asyncio.Future[None], timeout: float | None, loop: asyncio.AbstractEventLoop
) -> None:
    """Wait for ``future``; TimeoutError after ``timeout`` seconds (None: no limit)."""
    if timeout is None:
        await future
        return
    timer = loop.call_later(timeout, _expire, future)
    try:
        await future
    finally:
        timer.cancel()


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection: reads take whatever arrived, up to what one body read may take."""

    def __init__(self, protocol: _Protocol) -> None:
        assert protocol.transport is not None
        self._protocol = protocol
        self._transport = protocol.transport
        self._socket: socket.socket | None = self._transport.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffered and not protocol.eof:
            try:
                await protocol.wait_readable(timeout)
            except TimeoutError:
                raise httpcore.ReadTimeout("timed out waiting for the server") from None
        if protocol.buffered:
            return protocol.take(_RECEIVE_ROOM if max_bytes >= _BODY_READ else max_bytes)
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error) or repr(protocol.error))
        return b""  # the server closed the connection

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if protocol.error is not None or self._transport.is_closing():
            raise httpcore.WriteError(str(protocol.error or "the connection is closed"))
        self._transport.write(buffer)
        while protocol.writing_paused:
            try:
                await protocol.wait_writable(timeout)
            except TimeoutError:
                raise httpcore.WriteTimeout("timed out sending to the server") from None
        if protocol.error is not None:
            raise httpcore.WriteError(str(protocol.error))

    async def aclose(self) -> None:
        # As anyio does: a TLS transport would otherwise wait for the server's goodbye.
        self._transport.close()
        try:
            await asyncio.sleep(0)
        finally:
            # A close that had bytes still to send finishes (and forgets its loop)
            # once they are written, without counting itself lost: asyncio's abort()
            # would then fail on the missing loop.
            if not self._protocol.connection_closed:
                self._transport.abort()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            transport = await loop.start_tls(
                self._transport,
                self._protocol,
                ssl_context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            )
        except (TimeoutError, asyncio.TimeoutError):
            self._transport.abort()
            raise httpcore.ConnectTimeout("timed out in the TLS handshake") from None
        except (OSError, ssl.SSLError) as error:
            self._transport.abort()
            raise httpcore.ConnectError(str(error)) from error
        assert transport is not None
        self._protocol.transport = transport
        return AsyncioStream(self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            protocol = self._protocol
            return bool(protocol.buffered or protocol.eof) or is_socket_readable(self._socket)
        if info == "socket":
            return self._socket
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        return None


async def connect_tcp(
    host: str,
    port: int,
    timeout: float | None,
    local_address: str | None,
    socket_options: Iterable[SocketOption] | None,
) -> AsyncioStream:
    loop = asyncio.get_running_loop()
    local = None if local_address is None else (local_address, 0)
    try:
        _, protocol = await asyncio.wait_for(
            loop.create_connection(_Protocol, host, port, local_addr=local), timeout
        )
    except (TimeoutError, asyncio.TimeoutError):
        raise httpcore.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
    except OSError as error:
        raise httpcore.ConnectError(str(error)) from error
    stream = AsyncioStream(protocol)
    if stream._socket is not None:
        for option in socket_options or ():
            stream._socket.setsockopt(*option)
    return stream
