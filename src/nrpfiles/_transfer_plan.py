"""Decisions about a transfer made before any byte moves: type, parts, ranges, keys."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MIB = 1 << 20
S3_MIN_PART_SIZE = 5 * MIB
S3_MAX_PARTS = 10_000
MIN_DOWNLOAD_PART_SIZE = 1 * MIB

MULTIPART_THRESHOLD = 64 * MIB
DEFAULT_UPLOAD_PART_SIZE = 32 * MIB
RANGED_DOWNLOAD_THRESHOLD = 64 * MIB
DEFAULT_DOWNLOAD_PART_SIZE = 32 * MIB
DEFAULT_PARALLEL_PARTS = 4
# a resumable upload's parts: at least this many, of at least this size
RESUMABLE_MIN_PARTS = 256
RESUMABLE_MIN_PART_SIZE = 16 * MIB
# InvenioRDM takes no request body above this (413), parts through its API included;
# parts chosen here stay within it while S3's 10,000 parts allow
MAX_REQUEST_SIZE = 100 * MIB
# a resumable download's ranges: at least this many, of at least this size (every
# range is a request: 8 MiB ranges cost a 1 GiB download 14% on loopback)
RESUMABLE_MIN_RANGES = 128
RESUMABLE_MIN_RANGE_SIZE = 32 * MIB

LOCAL, MULTIPART, FETCH, REMOTE, AUTO = "L", "M", "F", "R", "auto"
_TRANSFER_NAMES = {
    "local-file": LOCAL,
    "local": LOCAL,
    "l": LOCAL,
    "multipart": MULTIPART,
    "m": MULTIPART,
    "url-fetch": FETCH,
    "fetch": FETCH,
    "f": FETCH,
    "remote": REMOTE,
    "remote-file": REMOTE,
    "r": REMOTE,
    "auto": AUTO,
}


def transfer_type(value: str | None) -> str:
    """The wire letter for a transfer name from the guide (``'url-fetch'``) or a letter."""
    if value is None:
        return AUTO
    try:
        return _TRANSFER_NAMES[value.strip().lower()]
    except (KeyError, AttributeError):
        known = ", ".join(repr(name) for name in _TRANSFER_NAMES)
        raise ValueError(f"unknown transfer type {value!r}; use one of {known}") from None


def choose_upload_transfer(requested: str, size: int, offered: tuple[str, ...]) -> str:
    if requested != AUTO:
        return requested
    if size >= MULTIPART_THRESHOLD and MULTIPART in offered:
        return MULTIPART
    return LOCAL


def upload_parts(
    size: int, transfer_metadata: Mapping[str, Any] | None, *, resumable: bool = False
) -> tuple[int, int]:
    """(parts, part_size) for a multipart upload, within S3's limits.

    A ``resumable`` upload (journaled, so another process can finish it) is cut
    into at least ``RESUMABLE_MIN_PARTS`` parts of at least
    ``RESUMABLE_MIN_PART_SIZE`` unless told otherwise: the parts in flight when
    it is killed are lost, and with the default parallelism they then come to a
    few percent of a large file, 64 MiB at most of a smaller one. Smaller parts
    would lose less, but every part costs a repository a request of its own
    (InvenioRDM about a tenth of a second), which 5 MiB parts pay 52 times for
    256 MiB. Parts chosen here are at most ``MAX_REQUEST_SIZE`` (what
    InvenioRDM takes in one request) up to the file of 10,000 such parts.

    S3 refuses to complete an upload with a part under 5 MiB but the last, and
    only says so at the commit: a ``part_size`` below that is refused here,
    and ``parts`` alone gets as many parts as 5 MiB each allows.
    """
    metadata = transfer_metadata or {}
    part_size = metadata.get("part_size")
    parts = metadata.get("parts")
    if part_size is not None:
        part_size = _positive_int("part_size", part_size)
        if part_size < S3_MIN_PART_SIZE and size > part_size:
            raise ValueError(
                f"part_size={part_size} is under the {S3_MIN_PART_SIZE} bytes (5 MiB) "
                "S3 storage requires of every part but the last"
            )
    if parts is not None:
        parts = _positive_int("parts", parts)
        if parts > S3_MAX_PARTS:
            raise ValueError(f"{parts} parts is more than the {S3_MAX_PARTS} a repository accepts")
    fewest_parts_size = math.ceil(size / S3_MAX_PARTS)
    if part_size is None and parts is None and resumable:
        part_size = max(RESUMABLE_MIN_PART_SIZE, math.ceil(size / RESUMABLE_MIN_PARTS))
        part_size = max(fewest_parts_size, min(part_size, MAX_REQUEST_SIZE))
    if part_size is None and parts is None:
        part_size = max(DEFAULT_UPLOAD_PART_SIZE, fewest_parts_size)
    if part_size is None:
        assert parts is not None
        part_size = max(S3_MIN_PART_SIZE, math.ceil(size / parts))
        parts = None  # the count follows from the part size
    computed = max(1, math.ceil(size / part_size))
    if parts is not None and parts != computed:
        raise ValueError(
            f"parts={parts} and part_size={part_size} do not describe a file of {size} bytes "
            f"({computed} parts of that size)"
        )
    if computed > S3_MAX_PARTS:
        raise ValueError(f"{computed} parts is more than the {S3_MAX_PARTS} a repository accepts")
    return computed, part_size


def download_ranges(
    size: int | None, parts: int | None, part_size: int | None, *, resumable: bool = False
) -> list[tuple[int, int]]:
    """Byte ranges (start, end exclusive) for a download; one range means a single stream.

    A ``resumable`` download (into a file, kept when interrupted) of 4 GiB or
    more is cut into ``RESUMABLE_MIN_RANGES`` ranges unless told otherwise, so
    that the ranges in flight, and the partial file's size ahead of its bytes,
    stay a few percent of the file; a smaller one into ranges of
    ``RESUMABLE_MIN_RANGE_SIZE``.
    """
    if parts is not None:
        parts = _positive_int("parts", parts)
    if part_size is not None:
        part_size = _positive_int("part_size", part_size)
        if part_size < MIN_DOWNLOAD_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_DOWNLOAD_PART_SIZE} bytes (1 MiB)")
    if not size:
        return [(0, size or 0)]
    if parts is None and part_size is None:
        if size < RANGED_DOWNLOAD_THRESHOLD:
            return [(0, size)]
        part_size = DEFAULT_DOWNLOAD_PART_SIZE
        if resumable:
            part_size = max(RESUMABLE_MIN_RANGE_SIZE, math.ceil(size / RESUMABLE_MIN_RANGES))
    if part_size is None:
        assert parts is not None
        part_size = max(MIN_DOWNLOAD_PART_SIZE, math.ceil(size / parts))
    elif parts is not None and parts * part_size < size:
        raise ValueError(f"parts={parts} of part_size={part_size} cannot cover {size} bytes")
    count = min(math.ceil(size / part_size), S3_MAX_PARTS)
    part_size = math.ceil(size / count)
    return [(start, min(start + part_size, size)) for start in range(0, size, part_size)]


def check_key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"a file key is a string, not {type(key).__name__}")
    if not key.strip():
        raise ValueError("a file key cannot be empty")
    if any(ord(char) < 32 for char in key):
        raise ValueError(f"a file key cannot contain control characters: {key!r}")
    return key


def path_inside(directory: str | os.PathLike[str], key: str) -> Path:
    """Where file ``key`` goes inside ``directory``; refuses keys that would escape it."""
    check_key(key)
    base = Path(directory).resolve()
    relative = Path(key)
    if relative.is_absolute() or key.startswith(("/", "\\")) or ".." in relative.parts:
        raise ValueError(f"file key {key!r} would be written outside {str(base)!r}")
    target = (base / relative).resolve()
    if base != target and base not in target.parents:
        raise ValueError(f"file key {key!r} would be written outside {str(base)!r}")
    return target


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value
