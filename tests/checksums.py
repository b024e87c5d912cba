"""Checksums as repositories report them, computed independently of the client's own code."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def composite(parts: Iterable[bytes], part_size: int) -> str:
    """What invenio-s3 reports for a multipart upload of these parts, until md5 replaces it."""
    digests = [hashlib.md5(part).digest() for part in parts]
    return f"multipart:{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}-{part_size}"


def composite_of(data: bytes, part_size: int) -> str:
    return composite((data[at : at + part_size] for at in range(0, len(data), part_size)), part_size)


def composite_of_file(path: Path, part_size: int) -> str:
    """The checksum S3 storage reports for ``path`` uploaded in parts of ``part_size``."""
    with path.open("rb") as stream:
        return composite(iter(lambda: stream.read(part_size), b""), part_size)
