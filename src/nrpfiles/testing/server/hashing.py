"""MD5 of an upload, computed by a thread that reads the file behind the writer.

The socket thread only moves bytes to disk; hashing follows at its own pace from the
page cache. An upload therefore is not slowed to MD5's speed, memory stays flat (the
hasher reads the file, nothing is queued), and a commit waits for the digest.

Multipart uploads are different: their checksum is left to :class:`ChecksumTasks`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from ..._checksums import Digest
from ..storage import Store

CHUNK = 4 << 20
log = logging.getLogger("nrpfiles.testing")


class HashJob:
    def __init__(self, path: Path) -> None:
        self._stream = open(path, "rb")  # noqa: SIM115  (closed by the hashing thread)
        self._condition = threading.Condition()
        self._written = 0
        self._finished = False
        self._cancelled = False
        self._done = threading.Event()
        self._digest: str | None = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, name="nrpfiles-md5", daemon=True).start()

    def advance(self, written: int) -> None:
        with self._condition:
            self._written = written
            self._condition.notify()

    def finish(self) -> None:
        with self._condition:
            self._finished = True
            self._condition.notify()

    def cancel(self) -> None:
        with self._condition:
            self._cancelled = True
            self._condition.notify()

    def wait(self, timeout: float | None = None) -> str:
        if not self._done.wait(timeout):
            raise TimeoutError("checksum not ready")
        if self._digest is None:
            raise RuntimeError("checksum was not computed") from self._error
        return self._digest

    def _run(self) -> None:
        digest = hashlib.md5()  # noqa: S324  (InvenioRDM's checksum algorithm)
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        position = 0
        try:
            with self._stream:
                while True:
                    with self._condition:
                        while (
                            position >= self._written and not self._finished and not self._cancelled
                        ):
                            self._condition.wait()
                        if self._cancelled:
                            return
                        available = self._written - position
                        if available <= 0 and self._finished:
                            break
                    got = self._stream.readinto(view[: min(CHUNK, available)])
                    if not got:
                        raise OSError("upload file shorter than written")
                    digest.update(view[:got])
                    position += got
            self._digest = digest.hexdigest()
        except BaseException as error:
            self._error = error
        finally:
            self._done.set()


class HashJobs:
    """Digests in progress, by content file id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, HashJob] = {}

    def register(self, file_id: str, job: HashJob) -> None:
        with self._lock:
            self._jobs[file_id] = job

    def discard(self, file_id: str | None) -> None:
        if file_id is None:
            return
        with self._lock:
            job = self._jobs.pop(file_id, None)
        if job is not None:
            job.cancel()

    def digest(self, file_id: str, path: Path) -> str:
        """The MD5 hex of a stored file: from its upload's job, or read now (after a restart)."""
        with self._lock:
            job = self._jobs.pop(file_id, None)
        if job is not None:
            return job.wait()
        return md5_of(path)

    def cancel_all(self) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
            self._jobs.clear()
        for job in jobs:
            job.cancel()


def md5_of(path: Path) -> str:
    digest = hashlib.md5()  # noqa: S324
    hash_file(digest, path)
    return digest.hexdigest()


def hash_file(digest: Digest, path: Path, start: int = 0, length: int | None = None) -> int:
    """Read ``length`` bytes of ``path`` from ``start`` (all to its end when None) into
    ``digest``; how many were read. A file shorter than ``length`` is an OSError."""
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    read = 0
    with open(path, "rb") as stream:
        stream.seek(start)
        while length is None or read < length:
            wanted = CHUNK if length is None else min(CHUNK, length - read)
            got = stream.readinto(view[:wanted])
            if not got:
                break
            digest.update(view[:got])
            read += got
    if length is not None and read < length:
        raise OSError(f"{path} ends {length - read} bytes short")
    return read


class ChecksumTasks:
    """Checksums filled in after commit by a background task, as InvenioRDM's worker does.

    A multipart upload commits with ``checksum: null`` on a file store, with S3's
    provisional ``multipart:...`` on S3; ``delay`` seconds later the MD5 appears on
    every entry sharing the content (the draft's, or the published record's once
    published). With no delay it is computed at once, as an eager worker would.
    ``md5`` reads an object (by file id) and gives its MD5 hex.
    """

    def __init__(self, store: Store, delay: float, md5: Callable[[str], str]) -> None:
        self._store = store
        self._delay = delay
        self._md5 = md5
        self._lock = threading.Lock()
        self._timers: dict[str, threading.Timer] = {}

    def schedule(self, file_id: str) -> None:
        if self._delay <= 0:
            self._run(file_id)
            return
        timer = threading.Timer(self._delay, self._run, (file_id,))
        timer.daemon = True
        with self._lock:
            previous = self._timers.pop(file_id, None)
            self._timers[file_id] = timer
        if previous is not None:
            previous.cancel()
        timer.start()

    def resume(self) -> None:
        """Checksums a stop interrupted are computed again."""
        for file_id in self._store.content_without_checksum():
            self.schedule(file_id)

    def discard(self, file_id: str | None) -> None:
        if file_id is None:
            return
        with self._lock:
            timer = self._timers.pop(file_id, None)
        if timer is not None:
            timer.cancel()

    def cancel_all(self) -> None:
        with self._lock:
            timers = list(self._timers.values())
            self._timers.clear()
        for timer in timers:
            timer.cancel()

    def _run(self, file_id: str) -> None:
        with self._lock:
            self._timers.pop(file_id, None)
        try:
            md5_hex = self._md5(file_id)
            self._store.set_missing_checksum(file_id, f"md5:{md5_hex}")
        except FileNotFoundError:
            pass  # deleted meanwhile, with its draft or its entry
        except Exception as error:  # a task racing the repository's stop
            log.debug("checksum of %s not stored: %s", file_id, error)
