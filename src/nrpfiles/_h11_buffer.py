"""h11's receive buffer, handing response bodies over without copying them twice more.

h11 0.16 copies each body byte three times in its receive buffer: into the
buffer, into a slice that only checks the buffer is not empty, and into the
slice it returns (httpcore then makes bytes of it, a fourth). With the socket
read 1 MiB at a time, those copies, made under the GIL, cost a download about a
third of its CPU in Python and keep the hashing thread waiting for the GIL. When
a body read may take everything buffered, which is the usual case, the buffer
here hands over its bytearray itself and starts a new one; any other read is
h11's own. The bytes and the events are the same.

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
        def maybe_extract_at_most(self, count: int) -> bytearray | None:
            data: bytearray = self._data
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
