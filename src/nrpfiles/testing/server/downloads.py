"""Answering file content: validators, conditional requests and single byte ranges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

from .http import ApiError, FileBody, Request, Response

# what browsers may show inline; anything else is offered as an attachment
_INLINE_TYPES = ("text/plain", "image/png", "image/jpeg", "image/gif", "application/pdf")


@dataclass(frozen=True)
class StoredContent:
    path: Path
    size: int
    md5_hex: str
    modified: datetime
    filename: str
    mimetype: str

    @property
    def etag(self) -> str:
        return f'"md5:{self.md5_hex}"'


def content_response(request: Request, content: StoredContent, *, ranges: bool) -> Response:
    last_modified = format_datetime(content.modified.replace(microsecond=0), usegmt=True)
    headers = [
        ("ETag", content.etag),
        ("Last-Modified", last_modified),
        ("Content-MD5", content.md5_hex),
    ]
    if ranges:
        headers.append(("Accept-Ranges", "bytes"))
    if_match = request.header("If-Match")
    if if_match is not None and not _etag_matches(if_match, content.etag):
        raise ApiError(412, "Precondition Failed")
    if_none_match = request.header("If-None-Match")
    if if_none_match is not None:
        if _etag_matches(if_none_match, content.etag):
            return Response(304, headers)
    elif _not_modified_since(request.header("If-Modified-Since"), content.modified):
        return Response(304, headers)
    headers += [
        ("Content-Type", content.mimetype),
        ("Content-Disposition", _disposition(request, content)),
        ("X-Content-Type-Options", "nosniff"),
    ]
    span = _requested_range(request, content, last_modified) if ranges else None
    if span is None:
        return Response(200, headers, file=FileBody(content.path, 0, content.size))
    start, end = span
    if start >= content.size:
        raise ApiError(
            416,
            "Requested Range Not Satisfiable",
            headers={"Content-Range": f"bytes */{content.size}"},
        )
    headers.append(("Content-Range", f"bytes {start}-{end}/{content.size}"))
    return Response(206, headers, file=FileBody(content.path, start, end - start + 1))


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [value.strip() for value in header.split(",")]
    bare = etag.strip('"')
    return any(c == "*" or c.removeprefix("W/").strip('"') == bare for c in candidates)


def _not_modified_since(header: str | None, modified: datetime) -> bool:
    if header is None:
        return False
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        return False
    return modified.replace(microsecond=0) <= since


def _requested_range(
    request: Request, content: StoredContent, last_modified: str
) -> tuple[int, int] | None:
    """The single byte range asked for, clipped to the size; None for the whole body."""
    header = request.header("Range")
    if header is None:
        return None
    if_range = request.header("If-Range")
    if if_range is not None and if_range.strip() not in (content.etag, last_modified):
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None  # multiple ranges are answered with the whole body, which is allowed
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0:
                raise _unsatisfiable(content)
            return max(content.size - suffix, 0), content.size - 1
        start = int(first)
        end = int(last) if last else content.size - 1
    except ValueError:
        return None
    if start >= content.size:
        raise _unsatisfiable(content)
    if start < 0 or end < start:
        return None
    return start, min(end, content.size - 1)


def _unsatisfiable(content: StoredContent) -> ApiError:
    return ApiError(
        416,
        "Requested Range Not Satisfiable",
        headers={"Content-Range": f"bytes */{content.size}"},
    )


def _disposition(request: Request, content: StoredContent) -> str:
    download = request.arg("download") is not None
    kind = "inline" if content.mimetype in _INLINE_TYPES and not download else "attachment"
    name = content.filename
    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        fallback = name.encode("ascii", "replace").decode().replace("?", "_")
        return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'{kind}; filename="{escaped}"'
