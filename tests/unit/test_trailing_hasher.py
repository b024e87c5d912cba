"""The hasher that follows a download: the same digest whether it hashes inline or on a thread."""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable, Iterator

import pytest

from nrpfiles._checksums import TrailingHasher
from nrpfiles.streams import MemorySink

MIB = 1 << 20


def _written(content: bytes, pieces: list[tuple[int, int]]) -> tuple[MemorySink, TrailingHasher]:
    """A sink and its hasher after ``pieces`` (start, end) of ``content`` were written in order."""
    sink = MemorySink()
    writer = sink.open(len(content))
    hasher = TrailingHasher(writer.read_back)
    for start, end in pieces:
        chunk = content[start:end]
        writer.write_at(start, chunk)
        hasher.offer(start, chunk)
        hasher.advance(end)
    return sink, hasher


def _md5_threads() -> int:
    return sum(thread.name == "nrpfiles-md5" for thread in threading.enumerate())


def test_a_small_download_is_hashed_at_the_end_without_a_thread() -> None:
    content = random.Random(1).randbytes(100_000)
    before = _md5_threads()
    _, hasher = _written(content, [(0, 40_000), (40_000, 100_000)])
    assert hasher.inline
    assert _md5_threads() == before
    assert hasher.hexdigest(len(content)) == hashlib.md5(content).hexdigest()


def test_a_large_download_is_hashed_on_a_thread_as_it_arrives() -> None:
    content = random.Random(2).randbytes(3 * MIB + 123)
    step = 256 << 10
    pieces = [(start, min(start + step, len(content))) for start in range(0, len(content), step)]
    _, hasher = _written(content, pieces)
    assert not hasher.inline
    assert hasher.hexdigest(len(content)) == hashlib.md5(content).hexdigest()


def test_ranges_written_out_of_order_are_read_back_for_the_hash() -> None:
    content = random.Random(3).randbytes(2 * MIB + 7)
    sink = MemorySink()
    writer = sink.open(len(content))
    hasher = TrailingHasher(writer.read_back)
    middle = MIB
    writer.write_at(middle, content[middle:])  # the second range first: not offered in order
    hasher.offer(middle, content[middle:])
    writer.write_at(0, content[:middle])
    hasher.offer(0, content[:middle])
    hasher.advance(len(content))
    assert hasher.hexdigest(len(content)) == hashlib.md5(content).hexdigest()


class _GatedMd5:
    """MD5 that hashes only while ``gate`` is open: a hash slower than the network."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()  # the hasher has taken a batch and waits at the gate
        self._md5 = hashlib.md5()

    def update(self, data: bytes | memoryview, /) -> None:
        self.entered.set()
        self.gate.wait(timeout=30)
        self._md5.update(data)

    def hexdigest(self) -> str:
        return self._md5.hexdigest()


def _counting(
    read_back: Callable[[int, int], Iterator[bytes | memoryview]], read: list[int]
) -> Callable[[int, int], Iterator[bytes | memoryview]]:
    def counted(offset: int, length: int) -> Iterator[bytes | memoryview]:
        read.append(length)
        return read_back(offset, length)

    return counted


def test_a_writer_ahead_of_the_hash_waits_for_it_instead_of_leaving_bytes_to_read_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("nrpfiles._checksums._MAX_HELD", 2 * MIB)
    content = random.Random(4).randbytes(8 * MIB)
    writer = MemorySink().open(len(content))
    read_back: list[int] = []
    digest = _GatedMd5()
    hasher = TrailingHasher(_counting(writer.read_back, read_back), digest)
    refused = []
    waited = threading.Event()

    def write_all() -> None:
        for start in range(0, len(content), MIB):
            chunk = content[start : start + MIB]
            writer.write_at(start, chunk)
            if not hasher.offer(start, chunk):
                refused.append(start)
                waited.set()
                hasher.put(start, chunk)
            hasher.advance(start + len(chunk))

    writing = threading.Thread(target=write_all)
    writing.start()
    assert waited.wait(timeout=30)  # the hash is stuck: the writer is held back
    assert writing.is_alive()
    digest.gate.set()
    writing.join(timeout=30)
    assert hasher.hexdigest(len(content)) == hashlib.md5(content).hexdigest()
    assert refused
    assert read_back == []  # every byte hashed from memory


def test_a_writer_never_waits_for_bytes_the_hasher_cannot_take_yet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("nrpfiles._checksums._MAX_HELD", 2 * MIB)
    content = random.Random(5).randbytes(4 * MIB)
    writer = MemorySink().open(len(content))
    hasher = TrailingHasher(writer.read_back)
    for start in range(0, len(content), MIB):
        # Offered but not yet final (no advance): waiting for the hasher would never end.
        chunk = content[start : start + MIB]
        writer.write_at(start, chunk)
        assert hasher.offer(start, chunk)
        hasher.put(start, chunk)  # returns at once, for the same reason
    assert hasher.hexdigest(len(content)) == hashlib.md5(content).hexdigest()


def test_cancelling_the_hasher_releases_a_waiting_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nrpfiles._checksums._MAX_HELD", MIB)
    content = random.Random(6).randbytes(3 * MIB)
    writer = MemorySink().open(len(content))
    digest = _GatedMd5()
    hasher = TrailingHasher(writer.read_back, digest)
    for start in (0, MIB):
        chunk = content[start : start + MIB]
        writer.write_at(start, chunk)
        hasher.offer(start, chunk)
        hasher.advance(start + MIB)
        if start == 0:
            # The hasher took the first MiB alone and is stuck in it: the second is
            # held, and the third finds no room (on a busy machine the hasher could
            # otherwise take both at once, and the third would fit).
            assert digest.entered.wait(timeout=30)
    last = content[2 * MIB :]
    writer.write_at(2 * MIB, last)
    putting = threading.Thread(target=hasher.put, args=(2 * MIB, last))
    putting.start()
    putting.join(timeout=0.2)
    assert putting.is_alive()
    hasher.cancel()
    putting.join(timeout=30)
    assert not putting.is_alive()
    digest.gate.set()
