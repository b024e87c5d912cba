"""File writes of a download done on a thread of their own, behind the event loop.

In the async flavour every range of a download is received on the event
loop's one thread; writing each chunk there too (a copy into the page cache,
about as long as receiving it) left the loop busy for both while the other
core idled. Several ranges in flight hand their chunks to one writing thread
instead: ``pwrite`` releases the GIL, so the writes overlap the receiving.
One stream alone keeps writing inline: the hand-off would cost it more than
the overlap gives (measured 1.9 against 1.5 GB/s on loopback).

A chunk counts as written, for the resume sidecar and the hash, only once it
is: its caller's ``then`` runs on the writing thread after the write.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

# Bytes queued for writing at most; a receiver beyond it waits (the disk is slower).
# 4 MiB ran 13% slower than this on four ranges; it is also what a kill may lose.
WRITE_BEHIND_ROOM = 16 << 20

Write = Callable[[int, bytes], None]


class WriteBehind:
    """A queue of positional writes and the thread that does them, in order."""

    def __init__(self, write_at: Write, *, room: int | None = None) -> None:
        self._write_at = write_at
        self._room = WRITE_BEHIND_ROOM if room is None else room
        self._queue: deque[tuple[int, bytes, Callable[[], None]]] = deque()
        self._queued_bytes = 0
        self._unfinished = 0  # queued and being written
        self._error: BaseException | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._progress = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    @property
    def idle(self) -> bool:
        """Nothing queued or being written: a write done now races with none."""
        return self._unfinished == 0

    def submit(self, offset: int, chunk: bytes, then: Callable[[], None]) -> bool:
        """Queue ``chunk`` for ``offset``; ``then`` runs once it is written.

        False when the queue is full: wait for :meth:`wait_for_room` (blocking)
        before the next one.
        """
        with self._lock:
            self._raise_error()
            if self._closed:
                raise RuntimeError("the download's writes are already closed")
            self._queue.append((offset, chunk, then))
            self._queued_bytes += len(chunk)
            self._unfinished += 1
            self._work.notify()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="nrpfiles-write-behind", daemon=True
                )
                self._thread.start()
            return self._queued_bytes < self._room

    def wait_for_room(self) -> None:
        with self._lock:
            while self._queued_bytes >= self._room and self._error is None:
                self._progress.wait()
            self._raise_error()

    def drain(self) -> None:
        """Wait until every queued chunk is written (blocking); raise what a write raised."""
        with self._lock:
            while self._unfinished and self._error is None:
                self._progress.wait()
            self._raise_error()

    def close(self) -> None:
        """Drop what is still queued and stop the thread, once its current write is done.

        The file may be closed after this returns; no write lands afterwards.
        """
        with self._lock:
            self._closed = True
            self._unfinished -= len(self._queue)
            self._queued_bytes -= sum(len(chunk) for _, chunk, _ in self._queue)
            self._queue.clear()
            self._work.notify()
            self._progress.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._work.wait()
                if self._closed:
                    return
                offset, chunk, then = self._queue.popleft()
            try:
                self._write_at(offset, chunk)
                then()
            except BaseException as error:  # handed to the receivers, on their thread
                with self._lock:
                    self._error = error
                    self._progress.notify_all()
                return
            with self._lock:
                self._queued_bytes -= len(chunk)
                self._unfinished -= 1
                self._progress.notify_all()
