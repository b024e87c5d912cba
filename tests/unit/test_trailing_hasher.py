"""The hasher that follows a download: the same digest whether it hashes inline or on a thread."""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable, Iterator

import pytest

from nrpfiles._trailing_hasher import _TURN_AHEAD, TrailingHasher
from nrpfiles.streams import MemorySink, SinkWriter

MIB = 1 << 20


@pytest.fixture(autouse=True, params=[False, True], ids=["held", "copied"])
def copy_chunks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Every case with chunks held as they are (the async flavour) and copied (ranges on threads)."""
    copying: bool = request.param
    monkeypatch.setattr(
        TrailingHasher.__init__, "__kwdefaults__", {"copy_chunks": copying}, raising=True
    )
    return copying


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


def _counting(
    read_back: Callable[[int, int], Iterator[bytes | memoryview]], read: list[int]
) -> Callable[[int, int], Iterator[bytes | memoryview]]:
    def counted(offset: int, length: int) -> Iterator[bytes | memoryview]:
        read.append(length)
        return read_back(offset, length)

    return counted


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


@pytest.mark.parametrize(("ahead_budget", "read_back_expected"), [(8 * MIB, []), (0, [MIB])])
def test_a_range_written_before_the_front_is_kept_in_memory_while_the_budget_allows(
    monkeypatch: pytest.MonkeyPatch, ahead_budget: int, read_back_expected: list[int]
) -> None:
    monkeypatch.setattr("nrpfiles._trailing_hasher._MAX_AHEAD", ahead_budget)
    content = random.Random(3).randbytes(2 * MIB)
    sink = MemorySink()
    writer = sink.open(len(content))
    read_back: list[int] = []
    hasher = TrailingHasher(_counting(writer.read_back, read_back))
    middle = MIB
    writer.write_at(middle, content[middle:])  # the second range first: ahead of the front
    assert hasher.offer(middle, content[middle:])  # the hash is not the limit: no waiting
    writer.write_at(0, content[:middle])
    hasher.offer(0, content[:middle])
    hasher.advance(len(content))
    assert hasher.hexdigest(len(content)) == hashlib.md5(content).hexdigest()
    assert read_back == read_back_expected


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


def test_a_writer_ahead_of_the_hash_waits_for_it_instead_of_leaving_bytes_to_read_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("nrpfiles._trailing_hasher._MAX_HELD", 2 * MIB)
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
    monkeypatch.setattr("nrpfiles._trailing_hasher._MAX_HELD", 2 * MIB)
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
    monkeypatch.setattr("nrpfiles._trailing_hasher._MAX_HELD", MIB)
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


def test_a_chunk_larger_than_what_may_be_held_waits_only_for_the_batch_being_hashed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("nrpfiles._trailing_hasher._MAX_HELD", 2 * MIB)
    content = random.Random(15).randbytes(4 * MIB)
    writer = MemorySink().open(len(content))
    digest = _GatedMd5()
    hasher = TrailingHasher(writer.read_back, digest)
    _write(writer, hasher, content, 0)
    hasher.advance(MIB)
    assert digest.entered.wait(timeout=30)  # hashing the first MiB
    big = content[MIB:]
    writer.write_at(MIB, big)
    assert not hasher.offer(MIB, big)  # no room for it while that batch runs
    putting = threading.Thread(target=hasher.put, args=(MIB, big))
    putting.start()
    putting.join(timeout=0.2)
    assert putting.is_alive()
    digest.gate.set()  # the batch ends: no room will ever fit the chunk; it is read back
    putting.join(timeout=10)
    assert not putting.is_alive()
    assert hasher.hexdigest(len(content)) == hashlib.md5(content).hexdigest()


def _hash_bound(
    monkeypatch: pytest.MonkeyPatch, content: bytes, read_back: list[int]
) -> tuple[SinkWriter, TrailingHasher, _GatedMd5]:
    """A hasher stuck in its first MiB while the front's writer filled most of what it may hold.

    The front is the range [0, 4 MiB); ``content`` goes on with a range from 4 MiB.
    """
    monkeypatch.setattr("nrpfiles._trailing_hasher._MAX_HELD", 3 * MIB)
    monkeypatch.setattr("nrpfiles._trailing_hasher._MAX_AHEAD", MIB)
    writer = MemorySink().open(len(content))
    digest = _GatedMd5()
    hasher = TrailingHasher(_counting(writer.read_back, read_back), digest)
    for start in (0, MIB, 2 * MIB):
        _write(writer, hasher, content, start)
        hasher.advance(start + MIB)
        if start == 0:
            assert digest.entered.wait(timeout=30)
    return writer, hasher, digest


def _write(writer: SinkWriter, hasher: TrailingHasher, content: bytes, start: int) -> bool:
    chunk = content[start : start + MIB]
    writer.write_at(start, chunk)
    return hasher.offer(start, chunk)


def _write_at_front(writer: SinkWriter, hasher: TrailingHasher, content: bytes, start: int) -> None:
    if not _write(writer, hasher, content, start):
        hasher.put(start, content[start : start + MIB])


def test_where_the_hash_is_the_limit_a_writer_ahead_of_the_front_waits_to_become_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    content = random.Random(7).randbytes(6 * MIB)
    read_back: list[int] = []
    writer, hasher, digest = _hash_bound(monkeypatch, content, read_back)
    assert _write(writer, hasher, content, 4 * MIB)  # kept in memory: the budget allows
    assert not _write(writer, hasher, content, 5 * MIB)  # no more room: wait
    waiting = threading.Thread(target=hasher.put, args=(5 * MIB, content[5 * MIB :]))
    waiting.start()
    waiting.join(timeout=0.2)
    assert waiting.is_alive()
    assert _write(writer, hasher, content, 3 * MIB)  # the front's range completes...
    hasher.advance(5 * MIB)  # ...and the waiting writer's range is the front now
    digest.gate.set()
    waiting.join(timeout=30)
    assert not waiting.is_alive()
    assert hasher.hexdigest(len(content)) == hashlib.md5(content).hexdigest()
    assert read_back == []  # every byte hashed from memory


def test_a_writer_ahead_of_the_front_waits_a_few_seconds_at_most(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("nrpfiles._trailing_hasher._AHEAD_WAIT", 0.2)
    content = random.Random(8).randbytes(6 * MIB)
    read_back: list[int] = []
    writer, hasher, digest = _hash_bound(monkeypatch, content, read_back)
    assert _write(writer, hasher, content, 4 * MIB)
    assert not _write(writer, hasher, content, 5 * MIB)
    hasher.put(5 * MIB, content[5 * MIB :])  # gives up waiting: read back later
    digest.gate.set()
    _write_at_front(writer, hasher, content, 3 * MIB)
    assert hasher.hexdigest(len(content)) == hashlib.md5(content).hexdigest()
    assert read_back == [MIB]


def test_where_the_network_is_the_limit_writers_ahead_of_the_front_never_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("nrpfiles._trailing_hasher._MAX_AHEAD", MIB)
    content = random.Random(9).randbytes(8 * MIB)
    read_back: list[int] = []
    writer = MemorySink().open(len(content))
    hasher = TrailingHasher(_counting(writer.read_back, read_back))
    for start in (0, MIB):  # the front, hashed as it comes
        _write(writer, hasher, content, start)
        hasher.advance(start + MIB)
    # The range ahead: one MiB kept in memory, the rest left on the sink, no waiting.
    assert all(_write(writer, hasher, content, start) for start in range(4 * MIB, 8 * MIB, MIB))
    for start in (2 * MIB, 3 * MIB):
        _write(writer, hasher, content, start)
        hasher.advance(start + MIB)
    assert hasher.hexdigest(len(content)) == hashlib.md5(content).hexdigest()
    assert sum(read_back) == 3 * MIB


# Chunks held as they are belong to the hasher once offered: these cases are the copies'.
@pytest.mark.parametrize("copy_chunks", [True], ids=["copied"])
def test_a_copying_hasher_holds_copies_the_writer_may_reuse_its_buffer_after_offering(
    copy_chunks: bool,
) -> None:
    content = random.Random(10).randbytes(4 * MIB)
    writer = MemorySink().open(len(content))
    read_back: list[int] = []
    digest = _GatedMd5()  # nothing is hashed before the buffer is overwritten
    hasher = TrailingHasher(_counting(writer.read_back, read_back), digest, copy_chunks=True)
    buffer = bytearray(MIB)
    for start in range(0, len(content), MIB):
        buffer[:] = content[start : start + MIB]
        writer.write_at(start, bytes(buffer))
        assert hasher.offer(start, buffer)  # type: ignore[arg-type]
        hasher.advance(start + MIB)
    buffer[:] = bytes(MIB)  # what it held is not the writer's any more
    digest.gate.set()
    assert hasher.hexdigest(len(content)) == hashlib.md5(content).hexdigest()
    assert read_back == []


@pytest.mark.parametrize("copy_chunks", [True], ids=["copied"])
@pytest.mark.parametrize("chunk_size", [16 << 10, MIB + 1])
def test_chunks_no_slot_takes_are_read_back_and_no_writer_waits_for_them(
    copy_chunks: bool, chunk_size: int
) -> None:
    """Small chunks (a slow link's) use up the slots before a batch is final; big ones fit none."""
    content = random.Random(11).randbytes(3 * MIB + 5)
    writer = MemorySink().open(len(content))
    read_back: list[int] = []
    hasher = TrailingHasher(_counting(writer.read_back, read_back), copy_chunks=True)
    for start in range(0, len(content), chunk_size):
        chunk = content[start : start + chunk_size]
        writer.write_at(start, chunk)
        if not hasher.offer(start, chunk):
            hasher.put(start, chunk)  # returns: the hasher frees slots or takes none
        hasher.advance(start + len(chunk))
    assert hasher.hexdigest(len(content)) == hashlib.md5(content).hexdigest()
    assert read_back


# -- ranges not yet begun: their turn --------------------------------------------------


def test_until_the_hash_keeps_up_a_range_far_ahead_begins_only_as_the_front_nears_it() -> None:
    content = random.Random(12).randbytes(8 * MIB)
    writer = MemorySink().open(len(content))
    digest = _GatedMd5()  # stuck in its first batch: the hash never waits for bytes
    hasher = TrailingHasher(writer.read_back, digest)
    assert not hasher.ahead_of_its_turn(_TURN_AHEAD)
    assert hasher.ahead_of_its_turn(6 * MIB)
    waiting = threading.Thread(target=hasher.wait_for_turn, args=(6 * MIB, 30.0))
    waiting.start()
    for start in range(0, 3 * MIB, MIB):
        _write(writer, hasher, content, start)
        hasher.advance(start + MIB)
    waiting.join(timeout=0.2)
    assert waiting.is_alive()  # 3 MiB short of it: too far
    _write(writer, hasher, content, 3 * MIB)
    hasher.advance(4 * MIB)  # 2 MiB short: its turn
    waiting.join(timeout=10)
    assert not waiting.is_alive()
    digest.gate.set()
    for start in range(4 * MIB, len(content), MIB):
        _write_at_front(writer, hasher, content, start)
        hasher.advance(start + MIB)
    assert hasher.hexdigest(len(content)) == hashlib.md5(content).hexdigest()


def test_once_the_hash_has_waited_for_bytes_ranges_far_ahead_begin_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("nrpfiles._trailing_hasher._KEPT_UP_IDLE", 0.05)
    content = random.Random(13).randbytes(2 * MIB)
    writer = MemorySink().open(len(content))
    hasher = TrailingHasher(writer.read_back)
    waiting = threading.Thread(target=hasher.wait_for_turn, args=(64 * MIB, 30.0))
    waiting.start()
    for start in (0, MIB):  # hashed at once; then the hasher waits for more, and nothing comes
        _write(writer, hasher, content, start)
        hasher.advance(start + MIB)
    waiting.join(timeout=10)
    assert not waiting.is_alive()
    assert not hasher.ahead_of_its_turn(64 * MIB)
    assert not hasher.is_the_limit
    assert hasher.hexdigest(len(content)) == hashlib.md5(content).hexdigest()


def test_a_hash_that_falls_behind_again_holds_ranges_back_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("nrpfiles._trailing_hasher._KEPT_UP_IDLE", 0.05)
    monkeypatch.setattr("nrpfiles._trailing_hasher._MAX_HELD", 2 * MIB)
    content = random.Random(14).randbytes(5 * MIB)
    writer = MemorySink().open(len(content))
    digest = _GatedMd5()
    digest.gate.set()
    hasher = TrailingHasher(writer.read_back, digest)
    for start in (0, MIB):
        _write(writer, hasher, content, start)
        hasher.advance(start + MIB)
    hasher.wait_for_turn(64 * MIB, 10.0)  # returns once the hash has waited for bytes
    assert not hasher.ahead_of_its_turn(64 * MIB)
    digest.gate.clear()
    digest.entered.clear()
    _write(writer, hasher, content, 2 * MIB)
    hasher.advance(3 * MIB)
    assert digest.entered.wait(timeout=30)  # stuck in that MiB
    _write(writer, hasher, content, 3 * MIB)  # held: half of what the hasher may hold
    assert hasher.is_the_limit
    assert hasher.ahead_of_its_turn(64 * MIB)
    digest.gate.set()
    hasher.advance(4 * MIB)
    _write_at_front(writer, hasher, content, 4 * MIB)
    assert hasher.hexdigest(len(content)) == hashlib.md5(content).hexdigest()


def test_waiting_for_a_turn_ends_at_its_timeout_and_when_the_hasher_is_cancelled() -> None:
    hasher = TrailingHasher(MemorySink().open(64 * MIB).read_back)
    hasher.wait_for_turn(32 * MIB, 0.05)  # returns: a caller looks for a stop in between
    assert hasher.ahead_of_its_turn(32 * MIB)
    waiting = threading.Thread(target=hasher.wait_for_turn, args=(32 * MIB, 30.0))
    waiting.start()
    waiting.join(timeout=0.1)
    assert waiting.is_alive()
    hasher.cancel()
    waiting.join(timeout=10)
    assert not waiting.is_alive()
    assert not hasher.ahead_of_its_turn(32 * MIB)
