"""MD5 of a multipart upload on the file store, hashed while its parts arrive.

The checksum of a multipart file is the background task's (``ChecksumTasks``), and
where that task is eager it runs inside the commit: read at commit, a 1 GiB file
holds the commit for as long as MD5 takes over it. Parts mostly arrive in order, so
the prefix they make is hashed as soon as it is on disk, by one worker thread for the
whole repository, and the task reads only what is left.

The result is the same as reading the file at the end, or the prefix is dropped: a
part that lands on bytes already hashed (sent again, perhaps with other content)
makes the task read the whole file, as it would have without this.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from .hashing import hash_file, md5_of


class _Prefix:
    """What is known of one multipart file: the ranges written, the MD5 of the start."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.digest = hashlib.md5()  # noqa: S324  (InvenioRDM's checksum algorithm)
        # bytes [0, hashed) are in the digest; [hashed, claimed) are being read into it
        self.hashed = 0
        self.claimed = 0
        self.broken = False
        self.written: dict[int, int] = {}  # ranges on disk beyond the prefix: start -> end
        self.lock = threading.Lock()  # held while the digest is updated
        self.pending: Future[None] | None = None

    def add(self, start: int, end: int) -> None:
        if start < self.claimed:
            self.broken = True  # those bytes may have changed under the digest
            return
        self.written[start] = max(end, self.written.get(start, end))

    def contiguous_end(self) -> int:
        """How far the written ranges reach without a gap from the hashed prefix.

        Parts start where the one before ends; a range that does not (never sent by
        a client keeping to its part size) stops the prefix, and the rest is read at
        the end.
        """
        end = self.claimed
        while end in self.written:
            end = max(end, self.written.pop(end))
        return end


class PartHashes:
    """Prefixes of multipart files hashed while their parts arrive, by content file id."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._prefixes: dict[str, _Prefix] = {}
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nrpfiles-part-md5")

    def start(self, file_id: str, path: Path) -> None:
        with self._guard:
            self._prefixes[file_id] = _Prefix(path)

    def part_written(self, file_id: str, start: int, end: int) -> None:
        """Bytes [start, end) of the file are on disk: hash what now follows the prefix."""
        with self._guard:
            prefix = self._prefixes.get(file_id)
            if prefix is None or prefix.broken:
                return
            prefix.add(start, end)
            if prefix.broken:
                return
            reach = prefix.contiguous_end()
            if reach <= prefix.claimed:
                return
            begin, prefix.claimed = prefix.claimed, reach
            prefix.pending = self._worker.submit(self._hash, prefix, begin, reach)

    def md5(self, file_id: str, path: Path) -> str:
        """The MD5 hex of the committed file at ``path``: its hashed prefix and the rest."""
        with self._guard:
            prefix = self._prefixes.pop(file_id, None)
        if prefix is None:
            return md5_of(path)
        _settle(prefix)
        with prefix.lock:
            incomplete = prefix.broken or prefix.hashed != prefix.claimed
            # a last part longer than declared was cut off at commit
            if incomplete or prefix.hashed > path.stat().st_size:
                return md5_of(path)
            hash_file(prefix.digest, path, prefix.hashed)
            return prefix.digest.hexdigest()

    def settle(self, file_id: str) -> None:
        """Wait for the reads queued for the file: it is about to move."""
        with self._guard:
            prefix = self._prefixes.get(file_id)
        if prefix is not None:
            _settle(prefix)

    def discard(self, file_id: str | None) -> None:
        if file_id is None:
            return
        with self._guard:
            prefix = self._prefixes.pop(file_id, None)
        if prefix is not None:
            prefix.broken = True  # a queued read of it stops before it starts

    def discard_all(self) -> None:
        with self._guard:
            for prefix in self._prefixes.values():
                prefix.broken = True
            self._prefixes.clear()

    def close(self) -> None:
        self.discard_all()
        self._worker.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _hash(prefix: _Prefix, begin: int, end: int) -> None:
        with prefix.lock:
            if prefix.broken or prefix.hashed != begin:
                return
            try:
                prefix.hashed += hash_file(prefix.digest, prefix.path, begin, end - begin)
            except OSError:
                prefix.broken = True  # gone (aborted, committed and moved): read it whole


def _settle(prefix: _Prefix) -> None:
    pending = prefix.pending  # the worker runs in order: the last one queued ends last
    if pending is not None:
        pending.exception()  # only waits: a failed read has marked the prefix broken

