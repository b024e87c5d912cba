"""Binary file objects as upload sources: open files, ``io.BytesIO``, pipes, web framework uploads.

Anything with a ``read()`` that returns bytes is accepted, read from where its
position stands, as :func:`shutil.copyfileobj` would read it:

- an object that can seek (an open file, ``io.BytesIO``, Django's
  ``UploadedFile``, werkzeug's ``FileStorage``) is measured with
  ``seek``/``tell`` and read in place. Parallel parts and the checksum thread
  each read a range; every read seeks and reads under one lock per object,
  so they never disturb each other's position;
- an object that cannot seek (a pipe, ``sys.stdin.buffer``, a socket file)
  is copied into an anonymous temporary file, a few MiB at a time, so memory
  stays flat whatever its length. Without ``size=`` the copy is made first,
  to learn the size; with it, the upload starts at once and the copy grows
  as the bytes are sent. Every reader reads the copy, so a retried request
  or a part sent again finds its bytes.

The object is never closed here, and its position afterwards is wherever
the last read left it: seek it if you read it again.
"""

from __future__ import annotations

import inspect
import io
import os
import tempfile
import threading
import weakref
from collections.abc import Generator
from typing import IO, Any

from nrpfiles.streams import DEFAULT_CHUNK_SIZE, DataSource, SourceChangedError

__all__ = ["FileObjectSource", "SpoolingSource", "file_object_source", "is_file_object"]

_SPOOL_CHUNK = 4 << 20
# One lock per caller's object, shared by every source made from it: two uploads of
# the same object must not move its position under each other either.
_position_locks: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def is_file_object(obj: object) -> bool:
    """Whether ``obj`` looks like a readable file object (it has a callable ``read``)."""
    return callable(getattr(obj, "read", None))


def _lock_for(obj: Any) -> threading.Lock:
    with _registry_lock:
        try:
            lock = _position_locks.get(obj)
            if lock is None:
                lock = _position_locks[obj] = threading.Lock()
            return lock
        except TypeError:  # neither weakly referenceable nor hashable: a lock of its own
            return threading.Lock()


def _unwrap(obj: Any) -> Any:
    """The object with a blocking ``read``; an async upload wrapper gives its ``.file``."""
    if inspect.iscoroutinefunction(getattr(obj, "read", None)):
        inner = getattr(obj, "file", None)
        if inner is not None and is_file_object(inner) and not inspect.iscoroutinefunction(inner.read):
            return inner  # Starlette's and FastAPI's UploadFile keep a plain file here
        raise TypeError(
            f"{type(obj).__name__}.read is a coroutine; pass a file object whose read() "
            "returns bytes (for an upload object, its .file)"
        )
    return obj


def _name_of(obj: Any) -> str | None:
    for attribute in ("filename", "name"):  # werkzeug's FileStorage, then files and Django's
        value = getattr(obj, attribute, None)
        if isinstance(value, str) and value:
            return os.path.basename(value) or None
    return None


def _content_type_of(obj: Any) -> str | None:
    for attribute in ("mimetype", "content_type"):  # werkzeug's, then Django's and Starlette's
        value = getattr(obj, attribute, None)
        if isinstance(value, str) and value:
            return value
    return None


def _position_and_end(obj: Any) -> tuple[int, int] | None:
    """Where the object stands and where it ends; None when it cannot seek."""
    seekable = getattr(obj, "seekable", None)
    try:
        if callable(seekable) and not seekable():
            return None
        start = obj.tell()
        end = obj.seek(0, io.SEEK_END)
        if not isinstance(end, int):  # some wrappers' seek returns None
            end = obj.tell()
        obj.seek(start)
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both of the last
        return None
    if not isinstance(start, int) or not isinstance(end, int):
        return None
    return start, end


def _require_bytes(data: object, obj: Any) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data) if not isinstance(data, bytes) else data
    if isinstance(data, str):
        raise TypeError(
            f"{type(obj).__name__} gives text, not bytes: open the file in binary mode ('rb')"
        )
    raise TypeError(f"{type(obj).__name__}.read() gave {type(data).__name__}, not bytes")


def _read_exactly(obj: Any, length: int) -> bytes:
    """Up to ``length`` bytes; short only at the end (raw files may return less per call)."""
    first = _require_bytes(obj.read(length), obj)
    if len(first) == length or not first:
        return first
    pieces, missing = [first], length - len(first)
    while missing:
        more = _require_bytes(obj.read(missing), obj)
        if not more:
            break
        pieces.append(more)
        missing -= len(more)
    return b"".join(pieces)


class FileObjectSource(DataSource):
    """A caller's seekable binary file object, from its position at creation to its end.

    Not closed by nrpfiles. Build one with :func:`file_object_source`, which
    also handles objects that cannot seek.
    """

    def __init__(
        self,
        obj: IO[bytes] | Any,
        start: int,
        size: int,
        *,
        name: str | None = None,
        content_type: str | None = None,
    ) -> None:
        self._obj = obj
        self._start = start
        self._size = size
        self._name = name
        self._content_type = content_type
        self._lock = _lock_for(obj)

    @property
    def size(self) -> int:
        return self._size

    @property
    def name(self) -> str | None:
        return self._name

    @property
    def content_type(self) -> str:
        return self._content_type or super().content_type

    def validate(self) -> None:
        if getattr(self._obj, "closed", False) is True:
            raise ValueError(f"{type(self._obj).__name__} is closed: nothing to read")

    def iter_chunks(
        self, offset: int = 0, length: int | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> Generator[bytes, None, None]:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        if offset < 0 or offset > self._size:
            raise ValueError(f"offset {offset} outside a source of {self._size} bytes")
        remaining = self._size - offset if length is None else length
        if remaining < 0 or offset + remaining > self._size:
            raise ValueError(f"range {offset}+{length} outside a source of {self._size} bytes")
        return self._read(self._start + offset, remaining, chunk_size)

    def _read(self, position: int, remaining: int, chunk_size: int) -> Generator[bytes, None, None]:
        while remaining > 0:
            with self._lock:  # seek and read as one step: other readers share the position
                self._obj.seek(position)
                chunk = _read_exactly(self._obj, min(chunk_size, remaining))
            if not chunk:
                raise SourceChangedError(
                    f"{type(self._obj).__name__} ended {remaining} bytes early: "
                    "it shrank while being read"
                )
            position += len(chunk)
            remaining -= len(chunk)
            yield chunk

    def __repr__(self) -> str:
        return f"FileObjectSource(<{type(self._obj).__name__}>, {self._size} bytes)"


def file_object_source(obj: Any, *, size: int | None = None) -> DataSource:
    """A :class:`DataSource` over a binary file object, from its current position.

    ``size``, when given, must be what the object holds from its position on:
    for an object that can seek, a difference raises ``ValueError`` before
    anything is sent. An object that cannot seek is copied to a temporary file
    (flat memory): first, without ``size``; as it is sent, with it (a stream
    that turns out shorter or longer fails the upload with
    ``SourceChangedError``). The copy goes when the source is garbage-collected.
    """
    if size is not None and (not isinstance(size, int) or size < 0):
        raise ValueError(f"size must be a non-negative number of bytes, got {size!r}")
    given, obj = obj, _unwrap(obj)
    if isinstance(obj, io.TextIOBase):
        raise TypeError(
            f"{type(obj).__name__} gives text, not bytes: open the file in binary mode ('rb')"
        )
    if getattr(obj, "closed", False) is True:
        raise ValueError(f"{type(obj).__name__} is closed: nothing to read")
    name = _name_of(given) or _name_of(obj)
    content_type = _content_type_of(given)
    measured = _position_and_end(obj)
    if measured is None:
        if size is not None:
            return SpoolingSource(obj, size, name=name, content_type=content_type)
        return _spooled(obj, size, name, content_type)
    start, end = measured
    available = max(0, end - start)
    _require_bytes(obj.read(0), obj)  # text mode refused now, not halfway through
    if size is not None and size != available:
        raise ValueError(
            f"size={size} but {type(obj).__name__} holds {available} bytes from its "
            f"position {start}; nothing was sent"
        )
    return FileObjectSource(obj, start, available, name=name, content_type=content_type)


def _spooled(obj: Any, size: int | None, name: str | None, content_type: str | None) -> DataSource:
    # Anonymous (unlinked at once where the system allows): nothing to clean up.
    spool = tempfile.TemporaryFile(prefix="nrpfiles-spool-")  # noqa: SIM115 - owned by the source
    try:
        copied = 0
        while True:
            chunk = _require_bytes(obj.read(_SPOOL_CHUNK), obj)
            if not chunk:
                break
            spool.write(chunk)
            copied += len(chunk)
        spool.flush()
        if size is not None and size != copied:
            raise ValueError(
                f"size={size} but {type(obj).__name__} gave {copied} bytes; nothing was sent"
            )
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    source = FileObjectSource(spool, 0, copied, name=name, content_type=content_type)
    weakref.finalize(source, spool.close)
    return source


class SpoolingSource(DataSource):
    """A stream that cannot seek, of a size the caller gave: sent while it is being read.

    Whichever reader needs bytes beyond what has been read so far takes them
    from the stream and appends them to an anonymous temporary file; every
    reader reads its range from that file. So the upload starts at once, a
    retried request or a part sent again finds its bytes, and memory stays
    flat. A stream that ends before ``size`` bytes, or goes on after them,
    fails the upload with ``SourceChangedError``.
    """

    def __init__(
        self, obj: Any, size: int, *, name: str | None = None, content_type: str | None = None
    ) -> None:
        self._obj = obj
        self._size = size
        self._name = name
        self._content_type = content_type
        self._spool = tempfile.TemporaryFile(prefix="nrpfiles-spool-")  # noqa: SIM115
        weakref.finalize(self, self._spool.close)
        self._spooled = 0
        self._fill_lock = threading.Lock()  # one reader at a time takes from the stream
        self._spool_lock = threading.Lock()  # seek and read of the spool as one step

    @property
    def size(self) -> int:
        return self._size

    @property
    def name(self) -> str | None:
        return self._name

    @property
    def content_type(self) -> str:
        return self._content_type or super().content_type

    def iter_chunks(
        self, offset: int = 0, length: int | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> Generator[bytes, None, None]:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        if offset < 0 or offset > self._size:
            raise ValueError(f"offset {offset} outside a source of {self._size} bytes")
        remaining = self._size - offset if length is None else length
        if remaining < 0 or offset + remaining > self._size:
            raise ValueError(f"range {offset}+{length} outside a source of {self._size} bytes")
        return self._read(offset, remaining, chunk_size)

    def _read(self, position: int, remaining: int, chunk_size: int) -> Generator[bytes, None, None]:
        while remaining > 0:
            wanted = min(chunk_size, remaining)
            self._fill_to(position + wanted)
            with self._spool_lock:
                self._spool.seek(position)
                chunk = _read_exactly(self._spool, wanted)
            position += len(chunk)
            remaining -= len(chunk)
            yield chunk

    def _fill_to(self, end: int) -> None:
        if self._spooled >= end:
            return
        with self._fill_lock:
            while self._spooled < end:
                wanted = min(_SPOOL_CHUNK, self._size - self._spooled)
                data = _require_bytes(self._obj.read(wanted), self._obj)
                if not data:
                    raise SourceChangedError(
                        f"{type(self._obj).__name__} ended after {self._spooled} bytes, "
                        f"size={self._size} was given"
                    )
                with self._spool_lock:
                    self._spool.seek(self._spooled)
                    self._spool.write(data)
                    self._spool.flush()
                self._spooled += len(data)
            if self._spooled == self._size and self._obj.read(1):
                raise SourceChangedError(
                    f"{type(self._obj).__name__} holds more than the size={self._size} given"
                )

    def __repr__(self) -> str:
        return f"SpoolingSource(<{type(self._obj).__name__}>, {self._size} bytes)"
