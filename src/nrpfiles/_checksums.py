"""MD5 the way transfers need it: whole, or per S3 part as S3 composes it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Protocol

import attrs

from nrpfiles.streams import DataSource

MD5_PREFIX = "md5:"
MULTIPART_PREFIX = "multipart:"
# invenio-s3 reports a multipart upload as "multipart:<S3 ETag>-<part size>" until a
# background task replaces it with md5; the S3 ETag is "<md5 of part md5s>-<parts>".
_MULTIPART = re.compile(r"multipart:([0-9a-f]{32})-(\d+)-(\d+)", re.IGNORECASE)


def md5_checksum(hexdigest: str) -> str:
    return f"{MD5_PREFIX}{hexdigest}"


def verifiable_md5(checksum: str | None) -> str | None:
    """The hex digest in an ``md5:`` checksum; None for others (e.g. S3's ``multipart:``)."""
    if checksum and checksum.lower().startswith(MD5_PREFIX):
        return checksum[len(MD5_PREFIX) :].lower()
    return None


class Digest(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...

    def hexdigest(self) -> str: ...


def md5_digest() -> Digest:
    return hashlib.md5(usedforsecurity=False)


class PartedMd5:
    """S3's ETag of a multipart object: the MD5 of its parts' binary MD5s, then ``-<parts>``.

    Fed the object's bytes in order, it cuts them into parts of ``part_size``.
    """

    def __init__(self, part_size: int) -> None:
        if part_size <= 0:
            raise ValueError(f"part size must be positive, got {part_size}")
        self._part_size = part_size
        self._digests: list[bytes] = []
        self._current = hashlib.md5(usedforsecurity=False)
        self._filled = 0

    def update(self, data: bytes | memoryview, /) -> None:
        view = memoryview(data)
        while view:
            room = self._part_size - self._filled
            piece, view = view[:room], view[room:]
            self._current.update(piece)
            self._filled += len(piece)
            if self._filled == self._part_size:
                self._close_part()

    def hexdigest(self) -> str:
        digests = [*self._digests, self._current.digest()] if self._filled else self._digests
        if not digests:  # an empty object is one empty part
            digests = [self._current.digest()]
        combined = hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()
        return f"{combined}-{len(digests)}"

    def _close_part(self) -> None:
        self._digests.append(self._current.digest())
        self._current = hashlib.md5(usedforsecurity=False)
        self._filled = 0


@attrs.frozen
class ExpectedChecksum:
    """A checksum the repository reports, in a form the client can recompute.

    ``value`` is what a digest's ``hexdigest()`` must give: the MD5 in hex, or
    for S3 multipart the composite ``<hex>-<parts>`` over parts of ``part_size``.
    """

    value: str
    part_size: int | None = None

    def new_digest(self) -> Digest:
        return md5_digest() if self.part_size is None else PartedMd5(self.part_size)

    def written(self, value: str) -> str:
        """``value`` written as the repository writes a checksum of this kind."""
        if self.part_size is None:
            return md5_checksum(value)
        return f"{MULTIPART_PREFIX}{value}-{self.part_size}"


def expected_checksum(checksum: str | None) -> ExpectedChecksum | None:
    """What to recompute to check ``checksum``; None when no known algorithm made it."""
    md5_hex = verifiable_md5(checksum)
    if md5_hex is not None:
        return ExpectedChecksum(md5_hex)
    multipart = _MULTIPART.fullmatch(checksum.strip()) if checksum else None
    if multipart and int(multipart[2]) > 0 and int(multipart[3]) > 0:
        return ExpectedChecksum(f"{multipart[1].lower()}-{multipart[2]}", int(multipart[3]))
    return None


def digest_of_chunks(chunks: Iterable[bytes | memoryview], digest: Digest) -> str:
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def md5_of_chunks(chunks: Iterable[bytes | memoryview]) -> str:
    return digest_of_chunks(chunks, md5_digest())


def md5_of_source(source: DataSource, size: int) -> str:
    """Hash the first ``size`` bytes through the source's own reader, beside the upload."""
    return md5_of_chunks(source.iter_views(0, size))


def parted_md5_of_source(source: DataSource, size: int, part_size: int) -> str:
    """The S3 multipart ETag the first ``size`` bytes give in parts of ``part_size``."""
    chunks = source.iter_views(0, size)
    return digest_of_chunks(chunks, PartedMd5(part_size))
