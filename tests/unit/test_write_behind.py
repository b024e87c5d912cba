"""Writes done on a thread behind the event loop: order, room, errors, closing."""

from __future__ import annotations

import errno
import threading

import pytest

from nrpfiles._write_behind import WriteBehind


class Disk:
    """A positional write target that can hold a write until released, or fail one."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.content = bytearray()
        self.writes: list[int] = []
        self.hold = threading.Event()
        self.hold.set()
        self.writing = threading.Event()
        self.fail_at = fail_at

    def write_at(self, offset: int, chunk: bytes) -> None:
        self.writing.set()
        assert self.hold.wait(10)
        if offset == self.fail_at:
            raise OSError(errno.ENOSPC, "No space left on device")
        end = offset + len(chunk)
        self.content.extend(bytes(max(0, end - len(self.content))))
        self.content[offset:end] = chunk
        self.writes.append(offset)


def test_each_chunk_is_written_before_its_follow_up_runs() -> None:
    disk = Disk()
    behind = WriteBehind(disk.write_at)
    seen: list[bytes] = []
    for index in range(8):
        offset = 4 * index

        def then(offset: int = offset) -> None:
            seen.append(bytes(disk.content[offset : offset + 4]))

        behind.submit(offset, b"%04d" % index, then)
    behind.drain()
    assert behind.idle
    assert seen == [b"%04d" % index for index in range(8)]
    assert disk.writes == [4 * index for index in range(8)]
    behind.close()


def test_a_full_queue_asks_its_receiver_to_wait_until_a_write_makes_room() -> None:
    disk = Disk()
    disk.hold.clear()
    behind = WriteBehind(disk.write_at, room=10)
    assert behind.submit(0, b"12345", lambda: None)
    assert not behind.submit(5, b"67890", lambda: None)  # 10 bytes queued: no room
    assert not behind.idle
    waited = threading.Event()

    def receiver() -> None:
        behind.wait_for_room()
        waited.set()

    thread = threading.Thread(target=receiver)
    thread.start()
    assert not waited.wait(0.2)  # nothing written yet: still no room
    disk.hold.set()
    thread.join(10)
    assert waited.is_set()
    behind.drain()
    assert bytes(disk.content) == b"1234567890"
    behind.close()


def test_a_failed_write_stops_the_writes_and_reaches_the_receiver() -> None:
    disk = Disk(fail_at=4)
    behind = WriteBehind(disk.write_at)
    followed: list[int] = []
    for offset in (0, 4, 8):
        behind.submit(offset, b"abcd", lambda offset=offset: followed.append(offset))
    with pytest.raises(OSError) as failed:
        behind.drain()
    assert failed.value.errno == errno.ENOSPC
    assert followed == [0]  # the chunk after the failure is not written or counted
    assert disk.writes == [0]
    assert not behind.idle  # what was not written never counts as done
    with pytest.raises(OSError):
        behind.submit(12, b"abcd", lambda: None)
    with pytest.raises(OSError):
        behind.wait_for_room()
    behind.close()


def test_a_failing_follow_up_is_an_error_of_the_writes_too() -> None:
    behind = WriteBehind(Disk().write_at)

    def checkpoint() -> None:
        raise OSError(errno.EIO, "sidecar not written")

    behind.submit(0, b"abcd", checkpoint)
    with pytest.raises(OSError, match="sidecar not written"):
        behind.drain()
    behind.close()


def test_close_drops_what_is_queued_and_no_write_lands_after_it() -> None:
    disk = Disk()
    disk.hold.clear()
    behind = WriteBehind(disk.write_at)
    followed: list[int] = []
    for offset in (0, 4, 8):
        behind.submit(offset, b"abcd", lambda offset=offset: followed.append(offset))
    assert disk.writing.wait(10)  # the first write is under way, the others queued
    closing = threading.Thread(target=behind.close)
    closing.start()
    closing.join(0.2)
    assert closing.is_alive()  # close waits for the write under way...
    disk.hold.set()
    closing.join(10)
    assert not closing.is_alive()
    assert disk.writes == [0] and followed == [0]  # ...and drops the rest
    with pytest.raises(RuntimeError, match="closed"):
        behind.submit(12, b"abcd", lambda: None)


def test_nothing_submitted_starts_no_thread() -> None:
    before = threading.active_count()
    behind = WriteBehind(Disk().write_at)
    assert behind.idle
    behind.drain()
    behind.close()
    assert threading.active_count() == before
