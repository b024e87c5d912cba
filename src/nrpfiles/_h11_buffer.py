"""h11's receive buffer, handing response bodies on without copying them again.

h11 0.16 copies each body byte three times in its receive buffer: into the
buffer, into a slice that only checks the buffer is not empty, and into the
slice it returns; httpcore then makes bytes of that slice, a fourth copy. With
the socket read 1 MiB at a time, those copies, made under the GIL, cost a
download about a third of its CPU in Python and keep the hashing thread waiting
for the GIL. The buffer here keeps the bytes a read brought as they
came when it held nothing else (the usual case for a body), and when a body read
may take everything buffered it hands that object itself over and starts
anew: httpcore's ``bytes()`` of it is then no copy either. Any other read (the
status line, headers, a read cut short by Content-Length) is h11's own, on a
bytearray made at that moment. The bytes and the events are the same.

Only connections of our own clients get it (``nrpfiles._pool`` installs it once
per connection, after the connection's first response has begun), and only
where h11's buffer is the one this was written against: h11 is pinned to a
minor version, and any other buffer is left alone, just slower.
"""

from __future__ import annotations

from typing import Any

try:
    from h11._receivebuffer import ReceiveBuffer
except ImportError:  # pragma: no cover - a future h11 without it: stock reads
    ReceiveBuffer = None  # type: ignore[assignment,misc]


if ReceiveBuffer is not None:

    class LeanReceiveBuffer(ReceiveBuffer):
        # bytes while it holds exactly what one read brought, else h11's bytearray
        _data: bytes | bytearray  # type: ignore[assignment]

        def __iadd__(self, byteslike: bytes | bytearray) -> LeanReceiveBuffer:
            if not self._data and type(byteslike) is bytes:
                self._data = byteslike  # immutable: safe to hold without a copy
                return self
            held = self._mutable()
            held += byteslike
            return self

        def _mutable(self) -> bytearray:
            if type(self._data) is not bytearray:
                self._data = bytearray(self._data)
            return self._data

        def _extract(self, count: int) -> bytearray:
            self._mutable()  # h11 deletes from the front and edits the lines it returns
            return super()._extract(count)

        def maybe_extract_at_most(self, count: int) -> bytes | bytearray | None:  # type: ignore[override]
            data = self._data
            if not data:
                return None
            if count < len(data):
                return self._extract(count)
            self._data = bytearray()
            self._next_line_search = 0
            self._multiple_lines_search = 0
            return data


# httpcore's connection (direct, or a proxy's) holds its HTTP/1.1 connection in
# ``_connection``, which holds h11's in ``_h11_state``: a few hops at most.
_MAX_HOPS = 4


def lean_body_reads(connection: object) -> bool:
    """Give the h11 connection behind ``connection`` the lean buffer; whether it has it.

    False while there is no HTTP/1.1 connection yet (before the first request)
    or where there will be none (HTTP/2).
    """
    if ReceiveBuffer is None:
        return True  # nothing to install, and nothing to look for again
    current: Any = connection
    for _ in range(_MAX_HOPS):
        state = getattr(current, "_h11_state", None)
        if state is not None:
            buffer = getattr(state, "_receive_buffer", None)
            if type(buffer) is ReceiveBuffer:
                buffer.__class__ = LeanReceiveBuffer
            return True
        current = getattr(current, "_connection", None)
        if current is None:
            return False
    return False
