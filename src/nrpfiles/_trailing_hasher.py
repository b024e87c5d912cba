"""Hashing a download on its own thread, behind the writers of its ranges.

hashlib releases the GIL on large buffers, so the hash overlaps with the
network in Python threads too. The hasher can only take bytes in order: the
*front* is the first range not yet complete, and what lies before its
position is final. Chunks written at the front are handed over as they are
and hashed from memory; chunks of the ranges ahead are kept in memory while
a few MiB allow and read back from the sink once final otherwise.

Where one stream alone keeps the hash busy (a fast network, a slow CPU), the
other ranges would only take CPU from it and leave bytes to read back, a copy
of each on the hash's thread: their writers then wait for the hash too, a few
seconds at most per chunk so that no server sees a connection stall for long.
Where the network is the limit the hash keeps up with the front, and every
range runs as fast as it can.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

from nrpfiles._checksums import Digest, md5_digest

# Small wake-ups would cost a read each; the hasher waits for this much, or the end.
_MIN_BATCH = 1 << 20
# Chunks at the front held for the hasher; a writer beyond this waits for it.
_MAX_HELD = 16 << 20
# Chunks of ranges ahead of the front held for the hasher; beyond, they are read back.
_MAX_AHEAD = 8 << 20
# The longest a writer ahead of the front waits for room, per chunk.
_AHEAD_WAIT = 5.0


class TrailingHasher:
    """Hashes what writers report final (``advance``), in order (MD5 by default).

    Writers hand every chunk they write to :meth:`offer`; when it answers
    False they call :meth:`put` (blocking, so off an event loop) instead.
    """

    def __init__(
        self,
        read_back: Callable[[int, int], Iterator[bytes | memoryview]],
        digest: Digest | None = None,
    ) -> None:
        self._read_back = read_back
        self._digest = md5_digest() if digest is None else digest
        self._hashed = 0
        self._final = 0
        self._held: deque[tuple[int, bytes]] = deque()  # at the front, in order
        self._held_bytes = 0
        self._held_end = 0
        self._ahead: dict[int, bytes] = {}
        self._ahead_bytes = 0
        # The front's writer had to wait for the hash; cleared when the hash catches up.
        self._hash_bound = False
        self._finished = False
        self._cancelled = False
        self._error: BaseException | None = None
        # One lock; each kind of waiter is woken only by what it waits for, since
        # a wake-up costs the GIL, which the hashing thread needs between updates.
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # the hasher: bytes became final
        self._room = threading.Condition(self._lock)  # the front's writer: room held
        self._ahead_room = threading.Condition(self._lock)  # writers ahead of the front
        self._waiting_ahead: set[int] = set()  # offsets of chunks whose writers wait
        # Started once a batch is final: a small file is hashed at the end, in one
        # update, cheaper than a thread and the hand-offs to it.
        self._thread: threading.Thread | None = None

    def offer(self, offset: int, chunk: bytes) -> bool:
        """A chunk just written at ``offset``: kept for hashing, or left to read back.

        False when its writer should wait for the hasher: call :meth:`put`.
        """
        with self._lock:
            if self._extends_front(offset):
                if self._held_bytes + len(chunk) > _MAX_HELD and self._can_drain():
                    return False
                self._hold(offset, chunk)
                return True
            if self._keep_ahead(offset, chunk):
                return True
            return not self._waiting_pays()

    def put(self, offset: int, chunk: bytes) -> None:
        """Keep ``chunk`` once the hasher has room for it (blocking)."""
        with self._lock:
            if not self._extends_front(offset) and not self._wait_ahead(offset, chunk):
                return
            while self._held_bytes + len(chunk) > _MAX_HELD and self._can_drain():
                self._room.wait()
            if self._extends_front(offset):
                self._hold(offset, chunk)

    def _wait_ahead(self, offset: int, chunk: bytes) -> bool:
        """Wait while the hash is the limit; True if the chunk turned out to be at the front."""
        deadline = time.monotonic() + _AHEAD_WAIT
        self._waiting_ahead.add(offset)
        try:
            while not self._extends_front(offset):
                if self._keep_ahead(offset, chunk):
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._waiting_pays():
                    return False  # read back once final
                self._ahead_room.wait(remaining)
            return True
        finally:
            self._waiting_ahead.discard(offset)

    def _extends_front(self, offset: int) -> bool:
        return offset == (max(self._held_end, self._final) if self._held else self._final)

    def _alive(self) -> bool:
        return self._thread is not None and not (
            self._cancelled or self._finished or self._error is not None
        )

    def _can_drain(self) -> bool:
        """Whether waiting for room ends: the hasher runs and may take the oldest chunk held."""
        return (
            self._alive()
            and bool(self._held)
            and self._held[0][0] + len(self._held[0][1]) <= self._final
        )

    def _waiting_pays(self) -> bool:
        """Whether a writer ahead of the front had better wait than write on."""
        return self._hash_bound and self._alive()

    def _hold(self, offset: int, chunk: bytes) -> None:
        if self._held_bytes + len(chunk) > _MAX_HELD:
            return  # a hasher that cannot take more now reads it back later
        self._held.append((offset, chunk))
        self._held_bytes += len(chunk)
        self._held_end = offset + len(chunk)
        if self._held_bytes >= _MAX_HELD // 2 and self._thread is not None:
            self._hash_bound = True

    def _keep_ahead(self, offset: int, chunk: bytes) -> bool:
        if offset < self._final or self._ahead_bytes + len(chunk) > _MAX_AHEAD:
            return False
        self._ahead[offset] = chunk
        self._ahead_bytes += len(chunk)
        return True

    def advance(self, final_prefix: int) -> None:
        with self._lock:
            if final_prefix > self._final:
                self._final = final_prefix
                if self._thread is None and self._final - self._hashed >= _MIN_BATCH:
                    self._thread = threading.Thread(
                        target=self._run, name="nrpfiles-md5", daemon=True
                    )
                    self._thread.start()
                self._work.notify()
                if final_prefix in self._waiting_ahead:
                    self._ahead_room.notify_all()  # that writer is at the front now

    @property
    def inline(self) -> bool:
        """Whether ``hexdigest`` will hash what is left on the calling thread (a batch at most)."""
        return self._thread is None

    def hexdigest(self, total: int) -> str:
        """Wait until ``total`` bytes are hashed and return the digest."""
        self.advance(total)
        with self._lock:
            self._finished = True
            self._wake_all()
            thread = self._thread
        if thread is None:
            self._run()
        else:
            thread.join()
        if self._error is not None:
            raise self._error
        return self._digest.hexdigest()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            self._held.clear()
            self._ahead.clear()
            self._held_bytes = self._ahead_bytes = 0
            self._wake_all()

    def _wake_all(self) -> None:
        for condition in (self._work, self._room, self._ahead_room):
            condition.notify_all()

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    while self._final - self._hashed < _MIN_BATCH and not (
                        self._finished or self._cancelled
                    ):
                        if self._hash_bound:
                            self._hash_bound = False  # caught up: the writers are the limit
                            self._ahead_room.notify_all()
                        self._work.wait()
                    if self._cancelled:
                        return
                    start, end = self._hashed, self._final
                    if start >= end and self._finished:
                        return
                    ahead_before = self._ahead_bytes
                    in_memory = self._take_held(end)
                    self._room.notify_all()
                    if self._ahead_bytes < ahead_before:
                        self._ahead_room.notify_all()
                self._hash_range(start, end, in_memory)
                self._hashed = end
        except BaseException as error:  # reported by hexdigest()
            with self._lock:
                self._error = error
                self._wake_all()

    def _take_held(self, end: int) -> list[tuple[int, bytes]]:
        """The chunks held before ``end``, in order."""
        taken = []
        while self._held and self._held[0][0] + len(self._held[0][1]) <= end:
            offset, chunk = self._held.popleft()
            self._held_bytes -= len(chunk)
            taken.append((offset, chunk))
        final = [offset for offset, chunk in self._ahead.items() if offset + len(chunk) <= end]
        for offset in final:
            chunk = self._ahead.pop(offset)
            self._ahead_bytes -= len(chunk)
            taken.append((offset, chunk))
        if final:
            taken.sort(key=lambda item: item[0])
        return taken

    def _hash_range(self, start: int, end: int, in_memory: list[tuple[int, bytes]]) -> None:
        position = start
        for offset, chunk in in_memory:
            if offset > position:
                self._hash_from_sink(position, offset)
                position = offset
            skip = position - offset
            if skip < len(chunk):
                self._digest.update(memoryview(chunk)[skip:])
                position = offset + len(chunk)
        if position < end:
            self._hash_from_sink(position, end)

    def _hash_from_sink(self, start: int, end: int) -> None:
        for chunk in self._read_back(start, end - start):
            self._digest.update(chunk)
