"""The lean h11 receive buffer: the same events as h11's own, whatever the pieces the socket gives."""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

import h11
import pytest

from nrpfiles._h11_buffer import LeanReceiveBuffer, lean_body_reads

BODY = random.Random(7).randbytes(300_000)


def _responses() -> bytes:
    sized = (
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY
    )
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for start in range(0, len(BODY), 70_000):
        piece = BODY[start : start + 70_000]
        chunked += b"%x\r\n" % len(piece) + piece + b"\r\n"
    chunked += b"0\r\nX-Trailer: yes\r\n\r\n"
    return sized + chunked


def _events(lean: bool, pieces: list[int]) -> list[Any]:
    """Two responses on one connection, fed in pieces of the given sizes, as h11 events."""
    connection = h11.Connection(our_role=h11.CLIENT)
    if lean:
        assert lean_body_reads(SimpleNamespace(_connection=SimpleNamespace(_h11_state=connection)))
        assert type(connection._receive_buffer) is LeanReceiveBuffer
    wire = _responses()
    events: list[Any] = []
    position = 0
    for _ in range(2):
        connection.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
        connection.send(h11.EndOfMessage())
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                size = pieces[len(events) % len(pieces)]
                connection.receive_data(wire[position : position + size])
                position += size
                continue
            events.append(event)
            if isinstance(event, h11.EndOfMessage):
                break
        connection.start_next_cycle()
    return events


def _bodies(events: list[Any]) -> list[bytes]:
    bodies, current = [], b""
    for event in events:
        if isinstance(event, h11.Data):
            current += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            bodies.append(current)
            current = b""
    return bodies


@pytest.mark.parametrize("pieces", [[1 << 20], [65_536], [1, 7, 4096, 100_000], [13]])
def test_the_lean_buffer_gives_the_events_h11_gives(pieces: list[int]) -> None:
    lean, stock = _events(True, pieces), _events(False, pieces)
    assert _bodies(lean) == _bodies(stock) == [BODY, BODY]
    assert [type(e) for e in lean] == [type(e) for e in stock]
    assert [e for e in lean if not isinstance(e, h11.Data)] == [
        e for e in stock if not isinstance(e, h11.Data)
    ]


def test_a_body_read_takes_the_bytes_a_socket_read_brought_without_copying_them() -> None:
    buffer = LeanReceiveBuffer()
    read = b"a" * 1000
    buffer += read
    taken = buffer.maybe_extract_at_most(5000)
    assert taken is read and len(buffer) == 0  # and bytes(taken), httpcore's, is no copy
    buffer += b"xyz"
    assert buffer.maybe_extract_at_most(2) == b"xy"
    assert bytes(buffer) == b"z"
    buffer += b"w"
    assert buffer.maybe_extract_at_most(10) == b"zw"
    assert buffer.maybe_extract_at_most(10) is None


def test_a_mutable_read_is_copied_not_held() -> None:
    buffer = LeanReceiveBuffer()
    read = bytearray(b"abc")
    buffer += read
    read[:] = b"xyz"
    assert buffer.maybe_extract_at_most(10) == b"abc"


def test_header_lines_come_as_h11_edits_them_after_a_body_sized_read() -> None:
    buffer = LeanReceiveBuffer()
    buffer += b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody"
    lines = buffer.maybe_extract_lines()
    assert lines == [b"HTTP/1.1 200 OK", b"A: b"]
    assert all(type(line) is bytearray for line in lines or [])
    assert buffer.maybe_extract_at_most(100) == b"body"


def test_connections_without_h11_are_left_alone() -> None:
    assert not lean_body_reads(SimpleNamespace(_connection=None))  # before the first request
    assert not lean_body_reads(object())
    stranger = SimpleNamespace(_h11_state=SimpleNamespace(_receive_buffer=bytearray()))
    assert lean_body_reads(stranger)
    assert type(stranger._h11_state._receive_buffer) is bytearray
