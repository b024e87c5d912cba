"""The storage origin behind ``/content`` redirects, like S3 behind an InvenioRDM site.

It serves presigned object URLs on its own port (another origin) and refuses, and
counts, any request that carries a bearer token: a client must never send one here.
As S3 does, it always honours byte ranges, sends the bare MD5 as ETag, refuses HEAD
on a URL signed for GET and answers errors in S3's XML.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from html import escape
from urllib.parse import unquote

from .context import Context
from .downloads import StoredContent, content_response
from .http import ApiError, Dispatch, Request, Response
from .serialize import guess_mimetype

_OBJECT = re.compile(r"^/objects/(?P<file_id>[0-9a-f-]{36})/(?P<name>[^/]+)$")
ONE_AUTH = (
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
    "Signature query string parameter or the Authorization header should be specified"
)


def make_storage_dispatch(ctx: Context) -> Dispatch:
    def dispatch(request: Request) -> Response:
        try:
            return serve_object(ctx, request)
        except StorageError as error:
            return error.response(request)

    return dispatch


class StorageError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def response(self, request: Request) -> Response:
        headers = list(self.headers.items())
        if request.method == "HEAD":
            return Response(self.status, headers)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>{escape(self.message)}</Message>"
            f"<Resource>{escape(request.path)}</Resource></Error>"
        )
        headers.append(("Content-Type", "application/xml"))
        return Response(self.status, headers, body.encode())


_CODES = {412: "PreconditionFailed", 416: "InvalidRange"}


def serve_object(ctx: Context, request: Request) -> Response:
    if request.header("Authorization") is not None or request.arg("access_token") is not None:
        ctx.count_violation()
        raise StorageError(400, "InvalidArgument", ONE_AUTH)
    match = _OBJECT.match(request.path)
    if match is None:
        raise StorageError(404, "NoSuchKey", "The specified key does not exist.")
    if request.method not in ("GET", "HEAD"):
        raise StorageError(
            405, "MethodNotAllowed", "The specified method is not allowed against this resource."
        )
    file_id, name = match["file_id"], unquote(match["name"])
    fields = {name_: request.arg(name_) or "" for name_ in ("expires", "md5", "modified")}
    signature = request.arg("signature") or ""
    if not ctx.signer.signature_ok(file_id, name, fields, signature):
        raise StorageError(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    if ctx.signer.expired(fields):
        raise StorageError(403, "AccessDenied", "Request has expired")
    if request.method == "HEAD":
        # the signature covers the method: a URL signed for GET does not take HEAD
        raise StorageError(403, "SignatureDoesNotMatch", "HEAD is not signed by this URL.")
    path = ctx.store.content_path(file_id)
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise StorageError(404, "NoSuchKey", "The specified key does not exist.") from None
    content = StoredContent(
        path=path,
        size=size,
        md5_hex=fields["md5"] or None,
        modified=datetime.fromisoformat(fields["modified"]),
        filename=name,
        mimetype=guess_mimetype(name),
        etag_prefix="",
    )
    try:
        return content_response(request, content, ranges=True)
    except ApiError as error:
        code = _CODES.get(error.status, "InternalError")
        raise StorageError(error.status, code, error.message, error.headers) from None
