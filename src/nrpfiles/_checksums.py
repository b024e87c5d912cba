"""MD5 the way transfers need it: off the thread that moves bytes, whole or per S3 part."""

from __future__ import annotations

import hashlib
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import attrs

from nrpfiles.streams import DataSource

MD5_PREFIX = "md5:"
MULTIPART_PREFIX = "multipart:"
# invenio-s3 reports a multipart upload as "multipart:<S3 ETag>-<part size>" until a
# background task replaces it with md5; the S3 ETag is "<md5 of part md5s>-<parts>".
_MULTIPART = re.compile(r"multipart:([0-9a-f]{32})-(\d+)-(\d+)", re.IGNORECASE)
# Small wake-ups would cost a read each; the hasher waits for this much, or the end.
_MIN_BATCH = 1 << 20
# In-order chunks held for the hasher; beyond this they are read back from the sink.
_MAX_HELD = 16 << 20


def md5_checksum(hexdigest: str) -> str:
    return f"{MD5_PREFIX}{hexdigest}"


def verifiable_md5(checksum: str | None) -> str | None:
    """The hex digest in an ``md5:`` checksum; None for others (e.g. S3's ``multipart:``)."""
    if checksum and checksum.lower().startswith(MD5_PREFIX):
        return checksum[len(MD5_PREFIX) :].lower()
    return None


class Digest(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...

    def hexdigest(self) -> str: ...


def _md5() -> Digest:
    return hashlib.md5(usedforsecurity=False)


class PartedMd5:
    """S3's ETag of a multipart object: the MD5 of its parts' binary MD5s, then ``-<parts>``.

    Fed the object's bytes in order, it cuts them into parts of ``part_size``.
    """

    def __init__(self, part_size: int) -> None:
        if part_size <= 0:
            raise ValueError(f"part size must be positive, got {part_size}")
        self._part_size = part_size
        self._digests: list[bytes] = []
        self._current = hashlib.md5(usedforsecurity=False)
        self._filled = 0

    def update(self, data: bytes | memoryview, /) -> None:
        view = memoryview(data)
        while view:
            room = self._part_size - self._filled
            piece, view = view[:room], view[room:]
            self._current.update(piece)
            self._filled += len(piece)
            if self._filled == self._part_size:
                self._close_part()

    def hexdigest(self) -> str:
        digests = [*self._digests, self._current.digest()] if self._filled else self._digests
        if not digests:  # an empty object is one empty part
            digests = [self._current.digest()]
        combined = hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()
        return f"{combined}-{len(digests)}"

    def _close_part(self) -> None:
        self._digests.append(self._current.digest())
        self._current = hashlib.md5(usedforsecurity=False)
        self._filled = 0


@attrs.frozen
class ExpectedChecksum:
    """A checksum the repository reports, in a form the client can recompute.

    ``value`` is what a digest's ``hexdigest()`` must give: the MD5 in hex, or
    for S3 multipart the composite ``<hex>-<parts>`` over parts of ``part_size``.
    """

    value: str
    part_size: int | None = None

    def new_digest(self) -> Digest:
        return _md5() if self.part_size is None else PartedMd5(self.part_size)

    def written(self, value: str) -> str:
        """``value`` written as the repository writes a checksum of this kind."""
        if self.part_size is None:
            return md5_checksum(value)
        return f"{MULTIPART_PREFIX}{value}-{self.part_size}"


def expected_checksum(checksum: str | None) -> ExpectedChecksum | None:
    """What to recompute to check ``checksum``; None when no known algorithm made it."""
    md5_hex = verifiable_md5(checksum)
    if md5_hex is not None:
        return ExpectedChecksum(md5_hex)
    multipart = _MULTIPART.fullmatch(checksum.strip()) if checksum else None
    if multipart and int(multipart[2]) > 0 and int(multipart[3]) > 0:
        return ExpectedChecksum(f"{multipart[1].lower()}-{multipart[2]}", int(multipart[3]))
    return None


def digest_of_chunks(chunks: Iterable[bytes | memoryview], digest: Digest) -> str:
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def md5_of_chunks(chunks: Iterable[bytes | memoryview]) -> str:
    return digest_of_chunks(chunks, _md5())


def md5_of_source(source: DataSource, size: int) -> str:
    """Hash the first ``size`` bytes through the source's own reader, beside the upload."""
    return md5_of_chunks(source.iter_views(0, size))


def parted_md5_of_source(source: DataSource, size: int, part_size: int) -> str:
    """The S3 multipart ETag the first ``size`` bytes give in parts of ``part_size``."""
    chunks = source.iter_views(0, size)
    return digest_of_chunks(chunks, PartedMd5(part_size))


class TrailingHasher:
    """Hashes a download on its own thread, following behind the writers (MD5 by default).

    Writers report the length of the prefix that is final (``advance``); the
    hasher hashes it, so hashing overlaps with the network instead of
    following it. hashlib releases the GIL on large buffers, so the overlap is
    real in Python threads too. Chunks written in order at the front are
    handed over as they are (``offer``) and hashed from memory, a few MiB at
    most; anything else (the other ranges of a parallel download) is read back
    from the sink, so memory stays flat either way. When the network outruns
    the hash, the writer at the front waits for the hasher (``put``) instead:
    reading the bytes back would cost the hasher a copy of each and leave it
    further behind, below the speed of the hash alone.
    """

    def __init__(
        self,
        read_back: Callable[[int, int], Iterator[bytes | memoryview]],
        digest: Digest | None = None,
    ) -> None:
        self._read_back = read_back
        self._digest = _md5() if digest is None else digest
        self._hashed = 0
        self._final = 0
        self._held: deque[tuple[int, bytes]] = deque()
        self._held_bytes = 0
        self._held_end = 0
        self._finished = False
        self._cancelled = False
        self._error: BaseException | None = None
        self._changed = threading.Condition()
        # Started once a batch is final: a small file is hashed at the end, in one
        # update, cheaper than a thread and the hand-offs to it.
        self._thread: threading.Thread | None = None

    def offer(self, offset: int, chunk: bytes) -> bool:
        """A chunk just written at ``offset``: kept for hashing if it extends the front.

        False when it extends the front but the hasher holds all it may: the
        caller then hands it over with :meth:`put`, off an event loop.
        """
        with self._changed:
            if not self._extends_front(offset):
                return True  # read back from the sink once it is final
            if self._held_bytes + len(chunk) > _MAX_HELD and self._can_drain():
                return False
            self._hold(offset, chunk)
            return True

    def put(self, offset: int, chunk: bytes) -> None:
        """Hold ``chunk`` once the hasher has taken what it holds (blocking)."""
        with self._changed:
            while self._held_bytes + len(chunk) > _MAX_HELD and self._can_drain():
                self._changed.wait()
            if self._extends_front(offset):
                self._hold(offset, chunk)

    def _extends_front(self, offset: int) -> bool:
        return offset == (self._held_end if self._held else self._final)

    def _can_drain(self) -> bool:
        """Whether waiting for room ends: the hasher runs and may take the oldest chunk held."""
        return (
            self._thread is not None
            and bool(self._held)
            and self._held[0][0] + len(self._held[0][1]) <= self._final
            and not (self._cancelled or self._finished or self._error is not None)
        )

    def _hold(self, offset: int, chunk: bytes) -> None:
        if self._held_bytes + len(chunk) > _MAX_HELD:
            return  # a hasher that cannot take more now reads it back later
        self._held.append((offset, chunk))
        self._held_bytes += len(chunk)
        self._held_end = offset + len(chunk)

    def advance(self, final_prefix: int) -> None:
        with self._changed:
            if final_prefix > self._final:
                self._final = final_prefix
                if self._thread is None and self._final - self._hashed >= _MIN_BATCH:
                    self._thread = threading.Thread(
                        target=self._run, name="nrpfiles-md5", daemon=True
                    )
                    self._thread.start()
                self._changed.notify_all()

    @property
    def inline(self) -> bool:
        """Whether ``hexdigest`` will hash what is left on the calling thread (a batch at most)."""
        return self._thread is None

    def hexdigest(self, total: int) -> str:
        """Wait until ``total`` bytes are hashed and return the digest."""
        self.advance(total)
        with self._changed:
            self._finished = True
            self._changed.notify_all()
            thread = self._thread
        if thread is None:
            self._run()
        else:
            thread.join()
        if self._error is not None:
            raise self._error
        return self._digest.hexdigest()

    def cancel(self) -> None:
        with self._changed:
            self._cancelled = True
            self._held.clear()
            self._held_bytes = 0
            self._changed.notify_all()

    def _run(self) -> None:
        try:
            while True:
                with self._changed:
                    while self._final - self._hashed < _MIN_BATCH and not (
                        self._finished or self._cancelled
                    ):
                        self._changed.wait()
                    if self._cancelled:
                        return
                    start, end = self._hashed, self._final
                    if start >= end and self._finished:
                        return
                    in_memory = self._take_held(end)
                    self._changed.notify_all()  # a writer may wait for the room
                self._hash_range(start, end, in_memory)
                self._hashed = end
        except BaseException as error:  # reported by hexdigest()
            with self._changed:
                self._error = error
                self._changed.notify_all()

    def _take_held(self, end: int) -> list[tuple[int, bytes]]:
        taken = []
        while self._held and self._held[0][0] + len(self._held[0][1]) <= end:
            offset, chunk = self._held.popleft()
            self._held_bytes -= len(chunk)
            taken.append((offset, chunk))
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
