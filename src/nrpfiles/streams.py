"""Where uploaded bytes come from and where downloaded bytes go, for both flavours.

A :class:`DataSource` is read in ranges, each range through its own file handle,
so parts uploaded from parallel threads and a separate hashing thread never
share a file position. A :class:`DataSink` hands out a :class:`SinkWriter` that
accepts writes at any offset from any thread and publishes the result only on
:meth:`SinkWriter.commit`: a :class:`FileSink` writes into a temporary file
beside its target and renames it into place, so the target is never left
half-written.

Nothing here does network I/O; file reads and writes are blocking, which both
flavours accept for chunks of a few MiB.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import threading
from abc import ABC, abstractmethod
from collections.abc import Generator, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "VIEW_CHUNK_SIZE",
    "DataSink",
    "DataSource",
    "FileSink",
    "FileSource",
    "MemorySink",
    "MemorySource",
    "SinkWriter",
    "SourceChangedError",
    "as_sink",
    "as_source",
    "is_url",
]

DEFAULT_CHUNK_SIZE = 4 << 20
# What a hash reads at a time: one buffer, filled again for each chunk, stays in
# the CPU's cache and costs no allocation or page faults (fresh 8 MiB chunks made
# hashing a file about 10% slower); 4 MiB, not less, because each read and each
# update also waits for the GIL while a transfer runs beside the hash.
VIEW_CHUNK_SIZE = 4 << 20
OCTET_STREAM = "application/octet-stream"
PARTIAL_SUFFIX = ".nrpfiles-partial"
# Leaves room for the dot, the random tag and the suffix within a 255-byte name.
_MAX_STEM_IN_TEMP_NAME = 180


class SourceChangedError(OSError):
    """A file source shrank (or vanished) while it was being read."""


def is_url(obj: object) -> bool:
    """Whether ``obj`` names a remote http(s) resource rather than local data.

    True for strings starting with ``http://`` or ``https://`` and for URL
    objects (``httpx.URL``, ``yarl.URL``...) whose ``str()`` does; paths,
    bytes and stream objects are never URLs.
    """
    if isinstance(obj, (bytes, bytearray, memoryview, os.PathLike, DataSource, DataSink)):
        return False
    text = obj if isinstance(obj, str) else str(obj)
    return text[:8].lower().startswith(("http://", "https://"))


def _check_range(size: int, offset: int, length: int | None) -> int:
    if offset < 0 or offset > size:
        raise ValueError(f"offset {offset} outside a source of {size} bytes")
    if length is None:
        return size - offset
    if length < 0 or offset + length > size:
        raise ValueError(f"range {offset}+{length} outside a source of {size} bytes")
    return length


def _check_chunk_size(chunk_size: int) -> None:
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")


class DataSource(ABC):
    """Bytes to upload, readable in independent ranges."""

    @property
    @abstractmethod
    def size(self) -> int:
        """Length in bytes, as of now."""

    @property
    def content_type(self) -> str:
        """Informational MIME type; the wire always carries application/octet-stream."""
        return OCTET_STREAM

    @property
    def name(self) -> str | None:
        """A file name that could serve as a default key, when the source has one."""
        return None

    def validate(self) -> None:
        """Raise now what reading would raise later (missing file, directory...)."""
        return None

    @abstractmethod
    def iter_chunks(
        self, offset: int = 0, length: int | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> Iterator[bytes]:
        """Yield ``length`` bytes from ``offset`` (to the end when None), at most
        ``chunk_size`` bytes per chunk; an empty range yields nothing.

        Every call reads independently of any other, so ranges may be read
        from several threads at once.
        """

    def iter_views(
        self, offset: int = 0, length: int | None = None, chunk_size: int = VIEW_CHUNK_SIZE
    ) -> Iterator[bytes | memoryview]:
        """:meth:`iter_chunks` for a reader done with each chunk before it asks for the
        next (a hash): a chunk may be a view of a buffer that the next one refills."""
        return self.iter_chunks(offset, length, chunk_size)


class FileSource(DataSource):
    """A file on disk; nothing is opened until it is validated or read."""

    def __init__(self, path: str | os.PathLike[str], content_type: str | None = None) -> None:
        self.path = Path(path)
        self._content_type = content_type or OCTET_STREAM

    @property
    def content_type(self) -> str:
        return self._content_type

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def size(self) -> int:
        return self._regular_file_size()

    def validate(self) -> None:
        self._regular_file_size()
        with open(self.path, "rb", buffering=0):  # PermissionError now, not mid-transfer
            pass

    def _regular_file_size(self) -> int:
        status = self.path.stat()  # FileNotFoundError as the caller expects
        if stat.S_ISDIR(status.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(self.path))
        if not stat.S_ISREG(status.st_mode):
            raise ValueError(f"not a regular file, its size is unknown: {self.path}")
        return status.st_size

    def iter_chunks(
        self, offset: int = 0, length: int | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> Generator[bytes, None, None]:
        _check_chunk_size(chunk_size)
        remaining = _check_range(self.size, offset, length)
        return self._read(offset, remaining, chunk_size)

    def iter_views(
        self, offset: int = 0, length: int | None = None, chunk_size: int = VIEW_CHUNK_SIZE
    ) -> Generator[memoryview, None, None]:
        _check_chunk_size(chunk_size)
        remaining = _check_range(self.size, offset, length)
        return self._read_into(offset, remaining, bytearray(min(chunk_size, remaining)))

    def _read(self, offset: int, remaining: int, chunk_size: int) -> Generator[bytes, None, None]:
        # Unbuffered: each read allocates exactly the chunk it returns, no second copy.
        with open(self.path, "rb", buffering=0) as handle:
            handle.seek(offset)
            while remaining > 0:
                chunk = handle.read(min(chunk_size, remaining))
                if not chunk:
                    raise self._shrank(remaining, offset)
                offset += len(chunk)
                remaining -= len(chunk)
                yield chunk

    def _read_into(
        self, offset: int, remaining: int, buffer: bytearray
    ) -> Generator[memoryview, None, None]:
        view = memoryview(buffer)
        with open(self.path, "rb", buffering=0) as handle:
            handle.seek(offset)
            while remaining > 0:
                count = handle.readinto(view[: min(len(view), remaining)])
                if not count:
                    raise self._shrank(remaining, offset)
                offset += count
                remaining -= count
                yield view[:count]

    def _shrank(self, remaining: int, offset: int) -> SourceChangedError:
        return SourceChangedError(
            f"{self.path} shrank while being read: {remaining} bytes missing before offset {offset}"
        )

    def __repr__(self) -> str:
        return f"FileSource({str(self.path)!r})"


class MemorySource(DataSource):
    """Bytes already in memory; the buffer is referenced, not copied.

    Mutating a ``bytearray`` while it is being uploaded breaks the checksum.
    """

    def __init__(
        self, data: bytes | bytearray | memoryview, content_type: str | None = None
    ) -> None:
        self._view = memoryview(data).cast("B")  # flat bytes whatever the item format
        self._content_type = content_type or OCTET_STREAM

    @property
    def content_type(self) -> str:
        return self._content_type

    @property
    def size(self) -> int:
        return self._view.nbytes

    def iter_chunks(
        self, offset: int = 0, length: int | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> Generator[bytes, None, None]:
        _check_chunk_size(chunk_size)
        remaining = _check_range(self.size, offset, length)
        return self._slices(offset, offset + remaining, chunk_size)

    def _slices(self, start: int, end: int, chunk_size: int) -> Generator[bytes, None, None]:
        for chunk_start in range(start, end, chunk_size):
            yield self._view[chunk_start : min(chunk_start + chunk_size, end)].tobytes()

    def __repr__(self) -> str:
        return f"MemorySource(<{self.size} bytes>, content_type={self._content_type!r})"


class SinkWriter(ABC):
    """One download in progress; ``write_at`` is safe from many threads for disjoint ranges.

    Used as a context manager, leaving the block without :meth:`commit`
    aborts, so a failed download leaves nothing behind.
    """

    @abstractmethod
    def write_at(self, offset: int, data: bytes | bytearray | memoryview) -> None: ...

    @abstractmethod
    def truncate(self, size: int) -> None:
        """Cut or extend what was written to ``size`` bytes (a restarted download)."""

    @abstractmethod
    def read_back(
        self, offset: int = 0, length: int | None = None, chunk_size: int = VIEW_CHUNK_SIZE
    ) -> Iterator[bytes | memoryview]:
        """Read what has been written so far, e.g. to hash it before committing.

        As :meth:`DataSource.iter_views`: a chunk may be refilled by the next one.
        """

    @abstractmethod
    def commit(self) -> None:
        """Publish the written bytes; the writer accepts nothing afterwards."""

    @abstractmethod
    def abort(self) -> None:
        """Throw the written bytes away; safe to call repeatedly and after commit."""

    def __enter__(self) -> SinkWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()


class DataSink(ABC):
    """Where a download goes."""

    def validate(self) -> None:
        """Raise now what opening would raise later (target is a directory...)."""
        return None

    @abstractmethod
    def open(self, size: int | None) -> SinkWriter:
        """Start a download of ``size`` bytes (None when unknown)."""


class FileSink(DataSink):
    """A file on disk, replaced atomically when the download completes.

    Bytes go into ``.{name}.{random}.nrpfiles-partial`` in the target's
    directory (made if missing); an existing target stays untouched until
    :meth:`SinkWriter.commit` renames the temporary file onto it. With
    ``fsync=True`` the data and the rename are flushed to disk on commit.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync

    def validate(self) -> None:
        if self.path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(self.path))

    def open(self, size: int | None) -> SinkWriter:
        self.validate()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return _FileWriter(self.path, size, fsync=self.fsync)

    def __str__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"FileSink({str(self.path)!r})"


def _create_temp_beside(target: Path) -> tuple[Path, int]:
    stem = target.name[:_MAX_STEM_IN_TEMP_NAME]
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temp = target.with_name(f".{stem}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
        try:
            # 0o666 and the umask, like any file the user creates; mkstemp would force 0o600.
            return temp, os.open(temp, flags, 0o666)
        except FileExistsError:
            continue


def write_all_at(
    fd: int, offset: int, data: bytes | bytearray | memoryview, seek_lock: threading.Lock | None
) -> None:
    """Write all of ``data`` at ``offset`` of ``fd``, from any thread.

    Without ``os.pwrite`` (Windows) a seek and a write are two steps, so callers
    that share ``fd`` between threads pass one lock to hold across both.
    """
    view = memoryview(data).cast("B")
    while view:
        if seek_lock is None:
            written = os.pwrite(fd, view, offset)
        else:
            with seek_lock:
                os.lseek(fd, offset, os.SEEK_SET)
                written = os.write(fd, view)
        offset += written
        view = view[written:]


class _FileWriter(SinkWriter):
    def __init__(self, target: Path, size: int | None, *, fsync: bool) -> None:
        self._target = target
        self._fsync = fsync
        self.temp_path, self._fd = _create_temp_beside(target)
        self._state = "open"
        # Without pwrite (Windows), a seek and a write must not interleave between threads.
        self._seek_lock = None if hasattr(os, "pwrite") else threading.Lock()
        if size:
            try:
                os.ftruncate(self._fd, size)  # sparse: parts can land anywhere
            except BaseException:
                self.abort()
                raise

    def _require_open(self) -> None:
        if self._state != "open":
            raise ValueError(f"the download into {self._target} is already {self._state}")

    def write_at(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        self._require_open()
        write_all_at(self._fd, offset, data, self._seek_lock)

    def truncate(self, size: int) -> None:
        self._require_open()
        os.ftruncate(self._fd, size)

    def read_back(
        self, offset: int = 0, length: int | None = None, chunk_size: int = VIEW_CHUNK_SIZE
    ) -> Iterator[bytes | memoryview]:
        self._require_open()
        return FileSource(self.temp_path).iter_views(offset, length, chunk_size)

    def commit(self) -> None:
        self._require_open()
        try:
            if self._fsync:
                os.fsync(self._fd)
            os.close(self._fd)
            self._state = "closed"
            os.replace(self.temp_path, self._target)
        except BaseException:
            self.abort()
            raise
        self._state = "committed"
        if self._fsync:
            _fsync_directory(self._target.parent)

    def abort(self) -> None:
        if self._state == "committed":
            return
        if self._state == "open":
            self._state = "closed"
            os.close(self._fd)
        self._state = "aborted"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp_path)

    def __repr__(self) -> str:
        return f"<FileSink writer {str(self.temp_path)!r} -> {str(self._target)!r} {self._state}>"


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # directories cannot be opened on every platform
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class MemorySink(DataSink):
    """Collects a download in memory; ``data`` holds the bytes once it completes."""

    def __init__(self) -> None:
        self._data: bytes | None = None

    @property
    def data(self) -> bytes:
        if self._data is None:
            raise ValueError("no download has completed into this MemorySink yet")
        return self._data

    def open(self, size: int | None) -> SinkWriter:
        return _MemoryWriter(self, size)

    def _publish(self, data: bytes) -> None:
        self._data = data

    def __repr__(self) -> str:
        held = "empty" if self._data is None else f"{len(self._data)} bytes"
        return f"MemorySink(<{held}>)"


class _MemoryWriter(SinkWriter):
    def __init__(self, sink: MemorySink, size: int | None) -> None:
        self._sink = sink
        self._buffer: bytearray | None = bytearray(size or 0)
        self._lock = threading.Lock()

    def _open_buffer(self) -> bytearray:
        if self._buffer is None:
            raise ValueError("this MemorySink download is already finished")
        return self._buffer

    def write_at(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        with self._lock:
            buffer = self._open_buffer()
            if offset == len(buffer):
                buffer += data
                return
            end = offset + memoryview(data).nbytes
            if end > len(buffer):
                buffer.extend(bytes(end - len(buffer)))
            buffer[offset:end] = data

    def truncate(self, size: int) -> None:
        with self._lock:
            buffer = self._open_buffer()
            if size < len(buffer):
                del buffer[size:]
            else:
                buffer.extend(bytes(size - len(buffer)))

    def read_back(
        self, offset: int = 0, length: int | None = None, chunk_size: int = VIEW_CHUNK_SIZE
    ) -> Iterator[bytes]:
        _check_chunk_size(chunk_size)
        with self._lock:
            remaining = _check_range(len(self._open_buffer()), offset, length)
        return self._copy_out(offset, offset + remaining, chunk_size)

    def _copy_out(self, start: int, end: int, chunk_size: int) -> Iterator[bytes]:
        for chunk_start in range(start, end, chunk_size):
            with self._lock:  # one chunk at a time: the buffer may be resized between chunks
                yield bytes(self._open_buffer()[chunk_start : min(chunk_start + chunk_size, end)])

    def commit(self) -> None:
        with self._lock:
            self._sink._publish(bytes(self._open_buffer()))
            self._buffer = None

    def abort(self) -> None:
        with self._lock:
            self._buffer = None


def as_source(obj: Any, *, size: int | None = None) -> DataSource:
    """Turn what users pass as an upload source into a validated :class:`DataSource`.

    Accepts a path (``str`` or ``os.PathLike``), ``bytes``/``bytearray``/
    ``memoryview``, any ``DataSource`` and any binary file object (see
    :mod:`nrpfiles.file_objects`; one that cannot seek is copied to a
    temporary file, here unless ``size`` is given). Validation happens here, so a missing file raises
    ``FileNotFoundError`` (a directory ``IsADirectoryError``) before any
    request is sent. A URL is not local data: it raises ``ValueError``; check
    :func:`is_url` first to route it to a url-fetch transfer. ``size``, when
    given, must match what the source holds.
    """
    from nrpfiles.file_objects import file_object_source, is_file_object

    source: DataSource
    if isinstance(obj, DataSource):
        source = obj
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        source = MemorySource(obj)
    elif is_url(obj):
        raise ValueError(
            "a URL is not local data to upload; use transfer_type='url-fetch' "
            "to let the repository fetch it"
        )
    elif isinstance(obj, (str, os.PathLike)):
        source = FileSource(obj)
    elif is_file_object(obj):
        source = file_object_source(obj, size=size)
    else:
        raise TypeError(
            "an upload source is a path, bytes, a binary file object or a DataSource, "
            f"not {type(obj).__name__}"
        )
    source.validate()
    if size is not None and source.size != size:
        raise ValueError(f"size={size} but the source holds {source.size} bytes; nothing was sent")
    return source


def as_sink(obj: Any) -> DataSink:
    """Turn what users pass as a download target into a :class:`DataSink`.

    A path (``str`` or ``os.PathLike``) becomes a :class:`FileSink`; a
    ``DataSink`` is returned as is. A URL string is refused with
    ``ValueError`` rather than becoming a directory named ``https:``.
    """
    if isinstance(obj, DataSink):
        return obj
    if isinstance(obj, str) and is_url(obj):
        raise ValueError("a download target is a local path or a DataSink, not a URL")
    if isinstance(obj, (str, os.PathLike)):
        return FileSink(obj)
    raise TypeError(f"a download target is a path or a DataSink, not {type(obj).__name__}")
