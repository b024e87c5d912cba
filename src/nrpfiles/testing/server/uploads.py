"""Streaming a request body to disk with large reads: memory stays flat."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .hashing import HashJob
from .http import TOO_LARGE, ApiError, ClientWentAway, Request, unsupported_type

CHUNK = 4 << 20
OCTET_STREAM = "application/octet-stream"


def refuse_oversized_body(request: Request, limit: int | None) -> None:
    """413 for a body above ``limit``, before anything else is looked at, as Flask does."""
    length = request.content_length
    if limit is not None and length is not None and length > limit:
        raise ApiError(413, TOO_LARGE)


def require_bytes_body(request: Request) -> int:
    """The declared length of a content upload: 415 for a wrong type, 411 without length."""
    if request.content_type != OCTET_STREAM:
        raise unsupported_type(OCTET_STREAM)
    length = request.content_length
    if length is None or request.chunked:
        raise ApiError(411, "A Content-Length header is required.")
    return length


def receive_to_new_file(request: Request, path: Path) -> HashJob:
    """Write the whole body into a new file at ``path`` while a hasher follows it."""
    length = request.content_length or 0
    with open(path, "wb") as stream:
        preallocate(stream.fileno(), length)
        job = HashJob(path)
        try:
            _copy_body(request, stream.fileno(), 0, length, job)
        except BaseException:
            job.cancel()
            raise
    job.finish()
    return job


def receive_into(request: Request, path: Path, offset: int) -> None:
    """Write the whole body into an existing file at ``offset`` (a multipart part)."""
    length = request.content_length or 0
    fd = os.open(path, os.O_WRONLY)
    try:
        _copy_body(request, fd, offset, length, None)
    finally:
        os.close(fd)


def preallocate(fd: int, length: int) -> None:
    """Reserve the blocks up front: allocating them write by write halves ext4's speed."""
    if length <= 0 or not hasattr(os, "posix_fallocate"):
        return
    with contextlib.suppress(OSError):
        os.posix_fallocate(fd, 0, length)


def _copy_body(request: Request, fd: int, offset: int, length: int, job: HashJob | None) -> None:
    buffer = bytearray(min(CHUNK, max(length, 1)))
    view = memoryview(buffer)
    written = 0
    while written < length:
        got = request.read_into(view[: min(len(view), length - written)])
        if not got:
            raise ClientWentAway("the request body ended before its Content-Length")
        chunk = view[:got]
        while chunk:
            done = os.pwrite(fd, chunk, offset + written)
            chunk = chunk[done:]
            written += done
        if job is not None:
            job.advance(written)
