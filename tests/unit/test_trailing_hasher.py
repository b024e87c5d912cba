"""The hasher that follows a download: the same digest whether it hashes inline or on a thread."""

from __future__ import annotations

import hashlib
import random
import threading

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
