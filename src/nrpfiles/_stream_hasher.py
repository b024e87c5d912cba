"""Hashing a stream on a thread of its own while the caller's thread keeps reading.

MD5 runs at about 0.6 GB/s a core and hashlib releases the GIL on large
buffers: fed from the reading thread, it would add its time to every read;
here the two overlap. At most a few MiB wait for the hasher, so memory stays
flat; a reader that gets that far ahead waits for room.
"""

from __future__ import annotations

import threading
from collections import deque

from nrpfiles._checksums import Digest

_MAX_WAITING = 16 << 20


class StreamHasher:
    """Feeds chunks, in order, to ``digest`` on a daemon thread."""

    def __init__(self, digest: Digest) -> None:
        self._digest = digest
        self._waiting: deque[bytes] = deque()
        self._waiting_bytes = 0
        self._finished = False
        self._cancelled = False
        self._error: BaseException | None = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="nrpfiles-md5", daemon=True)
        self._thread.start()

    def offer(self, chunk: bytes) -> bool:
        """Queue ``chunk`` if there is room; False when the caller must :meth:`put` it."""
        with self._changed:
            if self._waiting and self._waiting_bytes + len(chunk) > _MAX_WAITING:
                return False
            self._queue(chunk)
            return True

    def put(self, chunk: bytes) -> None:
        """Queue ``chunk``, waiting (blocking) until the hasher has made room."""
        with self._changed:
            while self._waiting and self._waiting_bytes + len(chunk) > _MAX_WAITING:
                if self._cancelled or self._error is not None:
                    return
                self._changed.wait()
            self._queue(chunk)

    def hexdigest(self) -> str:
        """Wait for every queued chunk to be hashed (blocking) and return the digest."""
        with self._changed:
            self._finished = True
            self._changed.notify_all()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._digest.hexdigest()

    def cancel(self) -> None:
        with self._changed:
            self._cancelled = True
            self._waiting.clear()
            self._waiting_bytes = 0
            self._changed.notify_all()

    def _queue(self, chunk: bytes) -> None:
        self._waiting.append(chunk)
        self._waiting_bytes += len(chunk)
        self._changed.notify_all()

    def _run(self) -> None:
        try:
            while True:
                with self._changed:
                    while not self._waiting and not (self._finished or self._cancelled):
                        self._changed.wait()
                    if self._cancelled or not self._waiting:
                        return
                    chunk = self._waiting.popleft()
                self._digest.update(chunk)
                with self._changed:
                    self._waiting_bytes -= len(chunk)
                    self._changed.notify_all()
        except BaseException as error:  # reported by hexdigest()
            self._error = error
