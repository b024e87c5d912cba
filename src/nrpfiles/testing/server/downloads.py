"""Answering file content as invenio-files-rest does: sanitized types, validators, ranges.

User-uploaded files are never served as something a browser would render or run:
only a short list of types keeps its Content-Type, markup and scripts become
``text/plain``, and everything else is ``application/octet-stream`` offered as an
attachment. Byte ranges are honoured only where the deployment allows them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

from .http import ApiError, FileBody, Request, Response

OCTET_STREAM = "application/octet-stream"
# served with their own type (invenio-files-rest's MIMETYPE_WHITELIST)
SAFE_TYPES = frozenset(
    {
        "audio/mpeg",
        "audio/ogg",
        "audio/wav",
        "audio/webm",
        "image/gif",
        "image/jpeg",
        "image/png",
        "image/tiff",
        "text/plain",
    }
)
# readable, but never rendered: served as text/plain (its MIMETYPE_PLAINTEXT)
AS_PLAIN_TEXT = frozenset(
    {
        "application/javascript",
        "application/json",
        "application/xhtml+xml",
        "application/xml",
        "text/css",
        "text/csv",
        "text/html",
        "image/svg+xml",
    }
)
PLAIN_TEXT_NAMES = frozenset({"readme"})
# what keeps a browser from rendering, framing or sniffing a served file (the site's
# own headers, which InvenioRDM sends with every answer, come on top)
_SAFETY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Download-Options", "noopen"),
    ("X-Permitted-Cross-Domain-Policies", "none"),
    ("X-XSS-Protection", "1; mode=block"),
)
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz|~"
)


@dataclass(frozen=True)
class StoredContent:
    path: Path
    size: int
    md5_hex: str | None  # None while a background task has yet to compute it
    modified: datetime
    filename: str
    mimetype: str
    # "md5:<hex>" as InvenioRDM's file store sends it; S3 sends the bare hex
    etag_prefix: str = "md5:"

    @property
    def etag(self) -> str | None:
        return None if self.md5_hex is None else f'"{self.etag_prefix}{self.md5_hex}"'


def sanitize_mimetype(mimetype: str, filename: str) -> str:
    if mimetype in SAFE_TYPES:
        return mimetype
    if mimetype in AS_PLAIN_TEXT or filename.lower() in PLAIN_TEXT_NAMES:
        return "text/plain"
    return OCTET_STREAM


def content_response(request: Request, content: StoredContent, *, ranges: bool) -> Response:
    last_modified = format_datetime(content.modified.replace(microsecond=0), usegmt=True)
    etag = content.etag
    headers = [("Last-Modified", last_modified), ("Cache-Control", "no-cache")]
    if etag is not None:
        headers.append(("ETag", etag))
    if content.md5_hex is not None:
        headers.append(("Content-MD5", content.md5_hex))
    if ranges:
        headers.append(("Accept-Ranges", "bytes"))
    if_none_match = request.header("If-None-Match")
    if if_none_match is not None:
        if _etag_matches(if_none_match, etag):
            return Response(304, headers)
    elif _not_modified_since(request.header("If-Modified-Since"), content.modified):
        return Response(304, headers)
    mimetype = sanitize_mimetype(content.mimetype, content.filename)
    headers += [
        ("Content-Type", with_charset(mimetype)),
        ("Content-Disposition", content_disposition(mimetype, content.filename)),
        *_SAFETY_HEADERS,
    ]
    if_match = request.header("If-Match")
    if if_match is not None and not _etag_matches(if_match, etag, star=False):
        # as werkzeug answers it: the status says no, the whole file comes anyway
        return Response(412, headers, file=FileBody(content.path, 0, content.size))
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


def _etag_matches(header: str, etag: str | None, *, star: bool = True) -> bool:
    """Whether the header names the ETag (``*`` names any, except where werkzeug forgets)."""
    candidates = [value.strip() for value in header.split(",")]
    if etag is None:
        return False
    bare = etag.strip('"')
    return any((star and c == "*") or c.removeprefix("W/").strip('"') == bare for c in candidates)


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
    if if_range is not None and if_range.strip() not in (content.etag or "", last_modified):
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


def with_charset(mimetype: str) -> str:
    return f"{mimetype}; charset=utf-8" if mimetype.startswith("text/") else mimetype


def content_disposition(mimetype: str, filename: str) -> str:
    """Inline for what may be shown; an attachment, named, for everything else."""
    if mimetype != OCTET_STREAM:
        return "inline"
    try:
        filename.encode("ascii")
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
        quoted = quote(filename, safe="!#$&+-.^_`|~")
        return f"attachment; filename={_header_value(simple)}; filename*=UTF-8''{quoted}"
    return f"attachment; filename={_header_value(filename)}"


def _header_value(value: str) -> str:
    """A token as it is, anything else quoted (as werkzeug writes header options)."""
    if value and _TOKEN_CHARS.issuperset(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
