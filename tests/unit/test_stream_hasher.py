from __future__ import annotations

import hashlib
import threading

from nrpfiles._stream_hasher import _MAX_WAITING, StreamHasher


def test_chunks_are_hashed_in_order_with_bounded_waiting():
    chunks = [bytes([n]) * (1 << 20) for n in range(40)]  # 40 MiB, more than may wait
    hasher = StreamHasher(hashlib.md5())
    refused = 0
    for chunk in chunks:
        if not hasher.offer(chunk):
            refused += 1
            hasher.put(chunk)
        assert hasher._waiting_bytes <= _MAX_WAITING
    assert hasher.hexdigest() == hashlib.md5(b"".join(chunks)).hexdigest()


class Blocked:
    """A digest that waits until released: the hasher falls behind."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def update(self, data) -> None:
        self.release.wait()

    def hexdigest(self) -> str:
        return "done"


def test_a_full_queue_refuses_offers_and_cancel_stops_the_thread():
    digest = Blocked()
    hasher = StreamHasher(digest)
    chunk = bytes(4 << 20)
    offered = [hasher.offer(chunk) for _ in range(8)]
    assert offered.count(False) >= 3  # at most 16 MiB wait, one more is being hashed
    hasher.cancel()
    digest.release.set()
    hasher._thread.join(timeout=10)
    assert not hasher._thread.is_alive()
