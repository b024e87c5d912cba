"""The async flavour's connections under asyncio: whole bodies, bounded buffering, timeouts."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpcore
import pytest

from nrpfiles._asyncio_stream import _HIGH_WATER, _RECEIVE_ROOM, _Protocol, connect_tcp

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_a_large_body_arrives_whole_and_in_order_in_bounded_reads() -> None:
    body = random.Random(5).randbytes(3 * _HIGH_WATER + 12345)

    async def send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(body)
        await writer.drain()
        writer.close()

    async with serving(send) as port:
        stream = await connect_tcp("127.0.0.1", port, 5.0, None, None)
        received = hashlib.md5()
        total, largest, most_held = 0, 0, 0
        while chunk := await stream.read(64 << 10, timeout=5.0):
            await asyncio.sleep(0.001)  # a slow consumer: the stream must stop reading ahead
            most_held = max(most_held, stream._protocol.buffered)
            received.update(chunk)
            total += len(chunk)
            largest = max(largest, len(chunk))
        await stream.aclose()
    assert total == len(body)
    assert received.hexdigest() == hashlib.md5(body).hexdigest()
    assert largest <= _RECEIVE_ROOM
    assert 0 < most_held < _HIGH_WATER + _RECEIVE_ROOM


def test_a_read_takes_what_a_socket_read_brought_without_copying_it() -> None:
    protocol = _Protocol()
    first, second = b"a" * 1000, b"b" * 10
    protocol.data_received(first)
    protocol.data_received(second)
    assert protocol.take(64 << 10) is first
    assert protocol.buffered == 10
    # smaller reads than what arrived (handshakes) take only what they ask for
    assert [protocol.take(4), protocol.take(4), protocol.take(4)] == [b"bbbb", b"bbbb", b"bb"]
    assert protocol.buffered == 0


async def test_a_short_read_takes_no_more_than_it_asks_for() -> None:
    async def send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"0123456789")
        await writer.drain()
        await reader.read()  # until the client closes
        writer.close()

    async with serving(send) as port:
        stream = await connect_tcp("127.0.0.1", port, 5.0, None, None)
        first = await stream.read(4, timeout=5.0)
        rest = b""
        while len(first) + len(rest) < 10:
            rest += await stream.read(64 << 10, timeout=5.0)
        await stream.aclose()
    assert first == b"0123"
    assert rest == b"456789"


async def test_a_silent_server_makes_the_read_time_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    async with serving(silent) as port:
        stream = await connect_tcp("127.0.0.1", port, 5.0, None, None)
        with pytest.raises(httpcore.ReadTimeout):
            await stream.read(64 << 10, timeout=0.05)
        await stream.aclose()


async def test_a_closed_connection_reads_as_the_end_and_shows_as_readable() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with serving(hang_up) as port:
        stream = await connect_tcp("127.0.0.1", port, 5.0, None, None)
        assert await stream.read(64 << 10, timeout=5.0) == b""
        assert stream.get_extra_info("is_readable") is True
        with pytest.raises(httpcore.WriteError):
            for _ in range(50):  # the reset may take a round trip to be seen
                await stream.write(b"GET / HTTP/1.1\r\n\r\n", timeout=5.0)
                await asyncio.sleep(0.01)
        await stream.aclose()


async def test_an_idle_open_connection_is_not_readable() -> None:
    async def wait(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    async with serving(wait) as port:
        stream = await connect_tcp("127.0.0.1", port, 5.0, None, None)
        assert stream.get_extra_info("is_readable") is False
        assert stream.get_extra_info("server_addr")[1] == port
        await stream.aclose()


async def test_nobody_listening_is_a_connect_error() -> None:
    async with serving(lambda reader, writer: asyncio.sleep(0)) as port:
        pass  # the port is free again
    with pytest.raises(httpcore.ConnectError):
        await connect_tcp("127.0.0.1", port, 5.0, None, None)


class _FlushingTransport(asyncio.Transport):
    """A transport whose close() still had bytes to send: asyncio finishes the close
    once they are written, delivering connection_lost without counting the
    connection lost, and its abort() then fails on the loop it has forgotten."""

    def __init__(self, protocol: asyncio.BaseProtocol) -> None:
        super().__init__()
        self._protocol = protocol
        self.lost = False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def is_closing(self) -> bool:
        return self.lost

    def close(self) -> None:
        asyncio.get_running_loop().call_soon(self._flushed)

    def _flushed(self) -> None:
        self.lost = True
        self._protocol.connection_lost(None)

    def abort(self) -> None:
        if self.lost:
            raise AttributeError("'NoneType' object has no attribute 'call_soon'")


async def test_closing_after_the_last_bytes_went_out_meanwhile_does_not_abort() -> None:
    from nrpfiles._asyncio_stream import AsyncioStream

    protocol = _Protocol()
    transport = _FlushingTransport(protocol)
    protocol.connection_made(transport)
    stream = AsyncioStream(protocol)
    await stream.aclose()
    assert transport.lost
