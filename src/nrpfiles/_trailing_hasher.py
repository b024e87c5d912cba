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

Ranges not yet begun wait for their turn (:meth:`TrailingHasher.wait_for_turn`)
until the hash has shown it keeps up with the network: it waited for bytes.
Begun far ahead of a hash that cannot keep up, they would stall on the
server's side, take CPU from the hash (on two cores the machine's other
threads take turns with it) and leave their bytes to read back.

Where ranges arrive on threads of their own (the sync flavour), chunks held
are copies in slots of one anonymous mapping: held for long by one thread and
freed by another, the receivers' own buffers would pile up in the C
allocator's per-thread arenas (about 150 MiB more resident memory for a
download of four ranges, against the 24 MiB actually held).
"""

from __future__ import annotations

import mmap
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
# Copies held (front, ahead and the batch being hashed), where chunks are copied.
_SLOT_SIZE = 1 << 20
_SLOTS = 32
# A range not yet begun waits until the hash is this near its first byte...
_TURN_AHEAD = 2 << 20
# ...unless the hash has waited this long for bytes, in all, since it last fell behind.
_KEPT_UP_IDLE = 0.02

Held = tuple[int, bytes | memoryview, int | None]  # offset, bytes, slot of a copy


class _Slots:
    """Fixed-size slots of one anonymous mapping, made on first use, for copies of chunks.

    Outside the C allocator, so memory held here never fragments its arenas,
    and pages are only resident once a slot has been used.
    """

    def __init__(self, count: int, size: int) -> None:
        self._count = count
        self._size = size
        self._views: list[memoryview] = []
        self._free: list[int] = []

    def has_room(self, size: int) -> bool:
        return size <= self._size and (not self._views or bool(self._free))

    def copy(self, chunk: bytes | memoryview) -> tuple[memoryview, int] | None:
        """A copy of ``chunk`` in a free slot and the slot's number, or None if none fits."""
        if not self.has_room(len(chunk)):
            return None
        if not self._views:
            whole = memoryview(mmap.mmap(-1, self._count * self._size))
            self._views = [whole[i * self._size : (i + 1) * self._size] for i in range(self._count)]
            self._free = list(range(self._count))
        slot = self._free.pop()
        view = self._views[slot][: len(chunk)]
        view[:] = chunk
        return view, slot

    def release(self, slots: list[int]) -> None:
        self._free.extend(slots)


class TrailingHasher:
    """Hashes what writers report final (``advance``), in order (MD5 by default).

    Writers hand every chunk they write to :meth:`offer`; when it answers
    False they call :meth:`put` (blocking, so off an event loop) instead.
    """

    def __init__(
        self,
        read_back: Callable[[int, int], Iterator[bytes | memoryview]],
        digest: Digest | None = None,
        *,
        copy_chunks: bool = False,
    ) -> None:
        """``copy_chunks``: hold copies of chunks, not the writers' own (see the module)."""
        self._read_back = read_back
        self._digest = md5_digest() if digest is None else digest
        self._hashed = 0
        self._final = 0
        self._held: deque[Held] = deque()  # at the front, in order
        self._held_bytes = 0
        self._held_end = 0
        self._ahead: dict[int, Held] = {}
        self._ahead_bytes = 0
        self._slots = _Slots(_SLOTS, _SLOT_SIZE) if copy_chunks else None
        self._hashing = False  # a batch is being hashed, outside the lock
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
        self._turn = threading.Condition(self._lock)  # ranges not yet begun
        self._waiting_turn: list[int] = []  # where they begin
        self._idle = 0.0  # seconds the hasher waited for bytes since it last fell behind
        # Started once a batch is final: a small file is hashed at the end, in one
        # update, cheaper than a thread and the hand-offs to it.
        self._thread: threading.Thread | None = None

    def offer(self, offset: int, chunk: bytes) -> bool:
        """A chunk arrived for ``offset``: kept for hashing, or left to read back once written.

        False when its writer should wait for the hasher: call :meth:`put`.
        """
        with self._lock:
            if self._extends_front(offset):
                if not self._front_has_room(len(chunk)) and self._can_drain():
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
            while not self._front_has_room(len(chunk)) and self._can_drain():
                self._room.wait()
            if self._extends_front(offset):
                self._hold(offset, chunk)

    def ahead_of_its_turn(self, offset: int) -> bool:
        """Whether a range beginning at ``offset`` had better not begin yet (see the module)."""
        return (
            self._idle < _KEPT_UP_IDLE
            and offset - self._final > _TURN_AHEAD
            and not (self._cancelled or self._finished or self._error is not None)
        )

    @property
    def is_the_limit(self) -> bool:
        """Whether the hash fell behind the bytes arriving and has not caught up since."""
        return self._waiting_pays()

    def wait_for_turn(
        self, offset: int, timeout: float, stopped: Callable[[], bool] = lambda: False
    ) -> None:
        """Block while :meth:`ahead_of_its_turn`, ``timeout`` seconds at most.

        Also ends once ``stopped()`` is true when :meth:`wake_turn_waiters` is called.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            self._waiting_turn.append(offset)
            try:
                while self.ahead_of_its_turn(offset) and not stopped():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return
                    self._turn.wait(remaining)
            finally:
                self._waiting_turn.remove(offset)

    def wake_turn_waiters(self) -> None:
        """Have every :meth:`wait_for_turn` look again whether to go on waiting."""
        with self._lock:
            self._turn.notify_all()

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
        """Whether waiting for room ends: the hasher runs and frees what it holds."""
        return self._alive() and (
            self._hashing
            or (
                bool(self._held)
                and self._held[0][0] + len(self._held[0][1]) <= self._final
                and self._final - self._hashed >= _MIN_BATCH  # or the hasher waits for more
            )
        )

    def _front_has_room(self, size: int) -> bool:
        return self._held_bytes + size <= _MAX_HELD and (
            self._slots is None or self._slots.has_room(size)
        )

    def _kept(self, offset: int, chunk: bytes) -> Held | None:
        """What the hasher holds of ``chunk``: itself, a copy, or nothing (no slot free)."""
        if self._slots is None:
            return offset, chunk, None
        copied = self._slots.copy(chunk)
        return None if copied is None else (offset, copied[0], copied[1])

    def _waiting_pays(self) -> bool:
        """Whether a writer ahead of the front had better wait than write on."""
        return self._hash_bound and self._alive()

    def _hold(self, offset: int, chunk: bytes) -> None:
        kept = self._kept(offset, chunk) if self._held_bytes + len(chunk) <= _MAX_HELD else None
        if kept is None:
            return  # a hasher that cannot take more now reads it back later
        self._held.append(kept)
        self._held_bytes += len(chunk)
        self._held_end = offset + len(chunk)
        if self._held_bytes >= _MAX_HELD // 2 and self._thread is not None:
            self._hash_bound = True
            self._idle = 0.0

    def _keep_ahead(self, offset: int, chunk: bytes) -> bool:
        if offset < self._final or self._ahead_bytes + len(chunk) > _MAX_AHEAD:
            return False
        if self._slots is not None and len(self._ahead) >= _MAX_AHEAD // _SLOT_SIZE:
            return False  # small chunks: the slots are the front's first
        kept = self._kept(offset, chunk)
        if kept is None:
            return False
        self._ahead[offset] = kept
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
                if self._waiting_turn and min(self._waiting_turn) - final_prefix <= _TURN_AHEAD:
                    self._turn.notify_all()

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
        for condition in (self._work, self._room, self._ahead_room, self._turn):
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
                        self._wait_for_bytes()
                    if self._cancelled:
                        return
                    start, end = self._hashed, self._final
                    if start >= end and self._finished:
                        return
                    ahead_before = self._ahead_bytes
                    in_memory = self._take_held(end)
                    self._hashing = True
                    self._room.notify_all()
                    if self._ahead_bytes < ahead_before:
                        self._ahead_room.notify_all()
                self._hash_range(start, end, in_memory)
                with self._lock:
                    self._hashed = end
                    self._hashing = False
                    # A writer may wait for this batch to end (a chunk larger than
                    # what may be held waits for one; it is read back after).
                    self._room.notify_all()
                    if self._slots is not None:
                        self._slots.release([slot for *_, slot in in_memory if slot is not None])
                        self._ahead_room.notify_all()
                del in_memory
        except BaseException as error:  # reported by hexdigest()
            with self._lock:
                self._error = error
                self._wake_all()

    def _wait_for_bytes(self) -> None:
        """Wait for bytes to hash; waiting so shows that the network is the limit."""
        if self._idle >= _KEPT_UP_IDLE:
            self._work.wait()
            return
        began = time.monotonic()
        # Not for ever: a stalled front must not keep the other ranges from beginning.
        self._work.wait(_KEPT_UP_IDLE - self._idle)
        if self._hash_bound:
            return  # it fell behind meanwhile (bytes held, not yet final): no wait counts
        self._idle += time.monotonic() - began
        if self._idle >= _KEPT_UP_IDLE:
            self._turn.notify_all()

    def _take_held(self, end: int) -> list[Held]:
        """The chunks held before ``end``, in order."""
        taken = []
        while self._held and self._held[0][0] + len(self._held[0][1]) <= end:
            held = self._held.popleft()
            self._held_bytes -= len(held[1])
            taken.append(held)
        final = [offset for offset, held in self._ahead.items() if offset + len(held[1]) <= end]
        for offset in final:
            held = self._ahead.pop(offset)
            self._ahead_bytes -= len(held[1])
            taken.append(held)
        if final:
            taken.sort(key=lambda item: item[0])
        return taken

    def _hash_range(self, start: int, end: int, in_memory: list[Held]) -> None:
        position = start
        for offset, chunk, _ in in_memory:
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
